"""A local server child process that we start and must stop cleanly (brokers, workers)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ManagedProcess", "ManagedWorkdir", "terminate"]


def terminate(process: subprocess.Popen[bytes] | None, timeout: float) -> int | None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


class ManagedWorkdir:
    """Something we start and must stop, in a working directory it may own (then removed by
    ``cleanup``); a context manager: ``with X(...) as x`` starts it and cleans up after."""

    def __init__(self, workdir: Path, *, own_workdir: bool) -> None:
        self.workdir = workdir
        self._own_workdir = own_workdir

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()


class ManagedProcess(ManagedWorkdir):
    """Owns one child process and, optionally, its temporary working directory."""

    stop_timeout = 20.0

    def __init__(self, workdir: Path, *, own_workdir: bool) -> None:
        super().__init__(workdir, own_workdir=own_workdir)
        self.process: subprocess.Popen[bytes] | None = None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop: SIGTERM, then SIGKILL after the timeout."""
        terminate(self.process, self.stop_timeout if timeout is None else timeout)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

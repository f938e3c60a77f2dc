"""Run ``predelinq worker`` as a real subprocess for integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import TracebackType

from stream_app.brokers import free_port, terminate


def unique_topics(prefix: str = "t") -> dict[str, str]:
    """Topic-name settings private to one test (so tests never see each other's records)."""
    run = uuid.uuid4().hex[:8]
    return {
        "TOPIC_TRANSACTIONS": f"{prefix}-{run}.bank.transactions.v1",
        "TOPIC_PAYMENTS": f"{prefix}-{run}.bank.payments.v1",
        "TOPIC_CUSTOMER_FLAGS": f"{prefix}-{run}.customer.flags.v1",
        "TOPIC_RISK_SCORES": f"{prefix}-{run}.risk.scores.v1",
        "TOPIC_INTERVENTIONS": f"{prefix}-{run}.risk.interventions.v1",
        "TOPIC_DEADLETTER": f"{prefix}-{run}.risk.deadletter.v1",
        "TOPIC_OUTCOMES": f"{prefix}-{run}.intervention.outcomes.v1",
        "APP_NAME": f"predelinq-test-{run}",
    }


class WorkerProcess:
    def __init__(self, env: dict[str, str], workdir: Path, *,
                 module: str = "stream_app") -> None:
        """``module``: what ``python -m`` runs with ``worker`` (e.g. a fault-injecting
        wrapper such as ``tests.support.late_resume``)."""
        self.module = module
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "worker.log"
        self.env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "STATE_STORE_URL": "memory://",
            "STATE_DIR": str(workdir / "state"),
            "SIDECAR_HOST": "127.0.0.1",
            "SIDECAR_PORT": str(self.port),
            "KAFKA_SESSION_TIMEOUT_SECONDS": "10",
            "KAFKA_HEARTBEAT_INTERVAL_SECONDS": "1",
            "KAFKA_REBALANCE_TIMEOUT_SECONDS": "10",
            "LOG_LEVEL": "INFO",
            # /metrics is read without a key here (tests/integration/test_security.py sets
            # it false and checks that the key is then required)
            "METRICS_PUBLIC_INFO": "true",
            # interventions are off by default (a deployment turns them on); the worker tests
            # check them, and a test that wants none passes ENABLE_INTERVENTIONS=false
            "ENABLE_INTERVENTIONS": "true",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # a restarted worker appends
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "worker"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_ready(self, timeout: float = 90.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_tail()}")
            try:
                status, body = self.get("/ready")
                last = body
                if status == 200:
                    result: dict[str, object] = json.loads(body)
                    return result
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"worker not ready after {timeout}s (last: {last!r}):\n"
                             f"{self.log_tail()}")

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics as {'name{labels}': value} (labels sorted as exposed)."""
        status, body = self.get("/metrics")
        assert status == 200
        samples: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: a crash, no graceful shutdown, no leaving the consumer group."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        return terminate(self.process, timeout)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

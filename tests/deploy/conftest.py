"""A live audit sink sidecar for the deploy checks: ``predelinq sink`` with an unreachable
database still serves /health and /metrics (it waits for PostgreSQL with backoff), so it needs
neither Kafka nor PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stream_app.brokers import free_port, terminate


@dataclass(frozen=True)
class LiveSidecar:
    port: int

    def get(self, path: str) -> tuple[int, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()


@pytest.fixture(scope="module")
def live_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSidecar]:
    port = free_port()
    env = {**os.environ, "ENVIRONMENT": "test", "SIDECAR_HOST": "127.0.0.1",
           "SIDECAR_PORT": str(port), "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "METRICS_PUBLIC_INFO": "true"}
    log_path: Path = tmp_path_factory.mktemp("sink") / "sink.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "stream_app", "sink"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    sidecar = LiveSidecar(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"sink exited:\n{log_path.read_text()}"
            try:
                if sidecar.get("/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"sink sidecar not up:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield sidecar
    finally:
        terminate(process, 30)

"""What the worker reports on /metrics about its own input path."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from prometheus_client import generate_latest

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from tests.support.models import TrainedFixture


def test_the_intake_gauge_counts_records_waiting_for_the_batch_loop(
        trained: TrainedFixture, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        app_name="metrics-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="memory://", state_dir=str(tmp_path), model_path=str(trained.path))
    runtime = WorkerRuntime(settings, trained.model)

    def scraped() -> float:
        runtime.refresh_metrics()
        for line in generate_latest(runtime.metrics.registry).decode().splitlines():
            if line.startswith("predelinq_intake_buffered_records "):
                return float(line.split()[1])
        raise AssertionError("gauge not exported")

    assert scraped() == 0
    for offset in range(3):
        runtime.intake.put(SimpleNamespace(offset=offset))
    assert scraped() == 3
    runtime.intake.clear()
    assert scraped() == 0

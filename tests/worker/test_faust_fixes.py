"""The faust fixes of stream_app.worker._faust_fixes, on a real (unconnected) faust app.

Fix 2: at the end of a recovery the input partitions are sought to their committed offsets
*before* they are resumed (faust resumes first: records fetched in between come from the
old fetch position and are delivered twice). The end-to-end effect is checked by
tests/integration/test_crash_recovery.py; this pins the order on both of faust's paths.

Fix 3: the worker consumer faust builds gets the app's fetch wait instead of faust's 1.5 s.

Fix 4: the table manager subscribes the changelogs and starts the recovery without faust's
one-second sleep first.
"""

from __future__ import annotations

from typing import Any

import faust
import pytest
from faust.types import TP

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from stream_app.worker._faust_fixes import apply_faust_fixes, set_fetch_max_wait
from tests.support.models import TrainedFixture

INPUT = TP("bank.transactions.v1", 0)


@pytest.fixture
def recovery(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    apply_faust_fixes()
    app = faust.App(f"fixes-{id(object())}", broker="kafka://127.0.0.1:1")
    calls: list[str] = []
    consumer = app.consumer

    async def perform_seek() -> None:
        calls.append("seek")

    async def noop(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(consumer, "assignment", lambda: {INPUT})
    monkeypatch.setattr(consumer, "perform_seek", perform_seek)
    monkeypatch.setattr(consumer, "resume_partitions", lambda tps: calls.append("resume"))
    monkeypatch.setattr(consumer, "resume_flow", lambda: calls.append("flow"))
    monkeypatch.setattr(app._fetcher, "maybe_start", noop)
    recovery: Any = app.tables.recovery  # type: ignore[attr-defined]

    async def wait(coro: Any, timeout: float | None = None) -> None:
        await coro  # the service is not started: no rebalance can interrupt the wait

    monkeypatch.setattr(recovery, "_wait", wait)
    return recovery, calls


async def test_after_reading_changelogs_the_seek_comes_before_the_resume(
        recovery: tuple[Any, list[str]]) -> None:
    service, calls = recovery
    await service.on_recovery_completed(generation_id=service.app.consumer_generation_id)
    assert calls == ["seek", "resume", "flow"]
    assert not service.app.rebalancing  # the batch loop may go on only after both


async def test_with_nothing_to_read_the_seek_comes_before_the_resume(
        recovery: tuple[Any, list[str]]) -> None:
    service, calls = recovery
    await service._resume_streams(generation_id=service.app.consumer_generation_id)
    assert calls == ["seek", "resume", "flow"]


def _worker_consumer(app: faust.App) -> Any:
    """The aiokafka consumer faust's consumer thread would start for ``app``."""
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]
    return thread._create_worker_consumer(app.transport)


async def test_the_worker_consumer_gets_the_apps_fetch_wait() -> None:
    apply_faust_fixes()
    app = faust.App(f"fixes-{id(object())}", broker="kafka://127.0.0.1:1")
    set_fetch_max_wait(app, 100)
    consumer = _worker_consumer(app)
    assert consumer._fetch_max_wait_ms == 100
    assert consumer._group_id == app.conf.id  # still faust's consumer in every other way


async def test_an_app_that_sets_no_fetch_wait_keeps_fausts() -> None:
    apply_faust_fixes()
    app = faust.App(f"fixes-{id(object())}", broker="kafka://127.0.0.1:1")
    assert _worker_consumer(app)._fetch_max_wait_ms == 1500


async def test_the_worker_sets_kafka_fetch_max_wait_ms_on_its_consumer(
        trained: TrainedFixture, tmp_path: Any) -> None:
    settings = Settings(  # type: ignore[call-arg]
        app_name="fetch-wait-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="memory://", state_dir=str(tmp_path), model_path=str(trained.path),
        kafka_fetch_max_wait_ms=250)
    runtime = WorkerRuntime(settings, trained.model)
    assert _worker_consumer(runtime.app)._fetch_max_wait_ms == 250


async def test_the_table_manager_starts_without_sleeping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    apply_faust_fixes()
    app = faust.App(f"fixes-{id(object())}", broker="kafka://127.0.0.1:1")
    tables: Any = app.tables
    calls: list[str] = []

    async def sleep(seconds: float) -> None:
        calls.append(f"sleep {seconds}")

    async def update_channels() -> None:  # subscribes the changelogs (needs a broker)
        calls.append("changelogs")

    async def start_recovery() -> None:
        calls.append("recovery")

    monkeypatch.setattr(tables, "sleep", sleep)
    monkeypatch.setattr(tables, "_update_channels", update_channels)
    monkeypatch.setattr(tables.recovery, "start", start_recovery)
    await tables.on_start()
    assert calls == ["changelogs", "recovery"]

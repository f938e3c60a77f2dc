"""The worker builds its batch processor from MAX_EVENT_SKEW_SECONDS, MAX_DEADLINES_PER_BATCH
and OUTPUT_ID_KEY, with its own (injected) wall clock (security review, issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stream_app.events import RecordType
from stream_app.processing import InputRecord, score_event_id
from stream_app.serializers import AvroCodec, SchemaCatalog
from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from tests.processing.test_processor import DictStore
from tests.support.models import TrainedFixture

NOW_S = 1_800_000_000.0
KEY = "a-secret-output-id-key"
TX = {"event_id": "tx-1", "customer_id": "CUST-1", "account_id": "CA-1", "amount_minor": 1000,
      "currency": "EUR", "direction": "DEBIT", "channel": "CARD", "category": "GROCERIES",
      "merchant_category_code": None, "status": "POSTED", "decline_reason": None,
      "balance_after_minor": 5000, "counterparty": None}


def _runtime(trained: TrainedFixture, tmp_path: Path, **env: Any) -> WorkerRuntime:
    settings = Settings(  # type: ignore[call-arg]
        app_name="event-time-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="memory://", state_dir=str(tmp_path), model_path=str(trained.path),
        topic_partitions=1, **env)
    return WorkerRuntime(settings, trained.model, clock=lambda: NOW_S)


def _record(occurred_at: int) -> InputRecord:
    value = AvroCodec(SchemaCatalog.default()).encode(RecordType.TRANSACTION,
                                                      {**TX, "occurred_at": occurred_at})
    return InputRecord("bank.transactions.v1", 0, 0, b"CUST-1", value)


def test_the_worker_bounds_event_time_by_its_clock_and_the_configured_skew(
        trained: TrainedFixture, tmp_path: Path) -> None:
    runtime = _runtime(trained, tmp_path, max_event_skew_seconds=60.0)
    now_ms = int(NOW_S * 1000)
    ahead = runtime.processor.process([_record(now_ms + 61_000)], DictStore())
    assert [d.reason for d in ahead.dead_letters] == ["event_time_in_future"]
    within = runtime.processor.process([_record(now_ms + 59_000)], DictStore())
    assert not within.dead_letters
    assert [s.as_of for s in within.scores] == [now_ms + 59_000]


def test_the_worker_keys_output_ids_with_output_id_key(trained: TrainedFixture,
                                                      tmp_path: Path) -> None:
    runtime = _runtime(trained, tmp_path, output_id_key=KEY)
    [score] = runtime.processor.process([_record(int(NOW_S * 1000))], DictStore()).scores
    assert score.event_id == score_event_id("CUST-1", "bank.transactions.v1", "tx-1",
                                            trained.model.version, key=KEY.encode())
    unkeyed = _runtime(trained, tmp_path)  # no OUTPUT_ID_KEY: the development key
    [default] = unkeyed.processor.process([_record(int(NOW_S * 1000))], DictStore()).scores
    assert default.event_id == score_event_id("CUST-1", "bank.transactions.v1", "tx-1",
                                              trained.model.version)
    assert default.event_id != score.event_id

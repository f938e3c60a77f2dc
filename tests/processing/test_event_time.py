"""Event time an upstream record claims is bounded by the worker's (fake) wall clock plus
MAX_EVENT_SKEW_SECONDS: a future-dated event is dead-lettered and moves no clock, a stored
clock beyond the bound is clamped on load, absence deadlines fire at most
MAX_DEADLINES_PER_BATCH per batch, and future- or past-dated flags and triggers cannot get
around the contact rules (security review, issue 20: H1 and H2)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from stream_app.events import RecordType
from stream_app.features import CustomerState, apply_event
from stream_app.observability import WorkerMetrics
from stream_app.offline import to_event
from stream_app.policy import ContactState, InterventionPolicy, in_control_group
from stream_app.processing import (
    DEVELOPMENT_OUTPUT_ID_KEY,
    TIMER_TOPIC,
    BatchProcessor,
    BatchResult,
    InputRecord,
)
from stream_app.serializers import AvroCodec, InputDecoder, OutputEncoder, SchemaCatalog
from tests.processing.test_processor import (
    FLAGS_TOPIC,
    NOW_S,
    OUT,
    POLICY,
    TOPIC_TYPES,
    DictStore,
    encode,
    metric,
    policy_of,
)
from tests.support.models import TrainedFixture

NOW_MS = int(NOW_S * 1000)
SKEW_S = 300.0
LATEST_MS = NOW_MS + int(SKEW_S * 1000)  # the latest event time the worker accepts
DAY_MS = 86_400_000
YEAR_2099_MS = 4_070_908_800_000  # 2099-01-01, a valid occurred_at (the contract: 2000-2100)
YEAR_2000_MS = 946_771_200_000  # 2000-01-02
PARTITIONS = 4


def _partition(customer_id: str) -> int:  # as tests/processing/test_processor.py places keys
    return int(customer_id[-3:]) % PARTITIONS


def _new(records: list[dict[str, Any]], catalog: SchemaCatalog) -> list[InputRecord]:
    """Records published after the stored history: at offsets past every one it applied (a
    record at an applied offset is one read again, a duplicate)."""
    return encode(records, catalog, start_offset=10**9)


def processor(trained: TrainedFixture, catalog: SchemaCatalog, *,
              metrics: WorkerMetrics | None = None, skew: float = SKEW_S,
              max_deadlines: int = 10_000, policy: InterventionPolicy | None = None,
              output_id_key: bytes = DEVELOPMENT_OUTPUT_ID_KEY) -> BatchProcessor:
    return BatchProcessor(
        decoder=InputDecoder(catalog, TOPIC_TYPES), encoder=OutputEncoder(catalog, "avro"),
        model=lambda: trained.model, policy=policy or policy_of(enabled=False, threshold=80),
        topics=OUT, metrics=metrics or WorkerMetrics(), clock=lambda: NOW_S,
        max_event_skew_seconds=skew, max_deadlines_per_batch=max_deadlines,
        output_id_key=output_id_key)


def _stored(trained: TrainedFixture, catalog: SchemaCatalog,
            history: list[dict[str, Any]]) -> DictStore:
    store = DictStore()
    before = processor(trained, catalog)
    inputs = encode(history, catalog)
    for i in range(0, len(inputs), 200):
        before.process(inputs[i : i + 200], store)
    return store


@pytest.fixture(scope="module")
def stored(trained: TrainedFixture, history: list[dict[str, Any]]) -> DictStore:
    return _stored(trained, SchemaCatalog.default(), history)


def _copy(store: DictStore) -> DictStore:
    copy = DictStore()
    copy.data, copy.contacts = dict(store.data), dict(store.contacts)
    return copy


def _transaction(history: list[dict[str, Any]], customer: str, event_id: str,
                 occurred_at: int) -> dict[str, Any]:
    last = next(r for r in reversed(history)
                if r["customer_id"] == customer and r["type"] == "transaction")
    return {**last, "event_id": event_id, "occurred_at": occurred_at}


def _timers(results: list[BatchResult]) -> list[tuple[str, str]]:
    return [(s.customer_id, s.trigger_event_id) for r in results for s in r.scores
            if s.trigger_topic == TIMER_TOPIC]


def _flags(customer: str, event_id: str, occurred_at: int, **flags: bool) -> dict[str, Any]:
    return {"event_id": event_id, "customer_id": customer, "account_id": None,
            "occurred_at": occurred_at, "opt_out_contact": False, "vulnerable": False,
            "hardship_plan": False, "deceased": False, "bankruptcy": False, **flags}


def _flags_record(catalog: SchemaCatalog, flags: dict[str, Any], offset: int) -> InputRecord:
    customer = flags["customer_id"]
    return InputRecord(FLAGS_TOPIC, _partition(customer), offset, customer.encode(),
                       AvroCodec(catalog).encode(RecordType.CUSTOMER_FLAGS, flags))


# --- H1: the bound on accepted event time -------------------------------------------------------

@pytest.mark.parametrize(("offset_ms", "accepted"), [
    pytest.param(0, True, id="at-the-wall-clock"),
    pytest.param(int(SKEW_S * 1000), True, id="exactly-the-skew-ahead"),
    pytest.param(int(SKEW_S * 1000) + 1, False, id="one-ms-beyond-the-skew"),
    pytest.param(YEAR_2099_MS - NOW_MS, False, id="in-2099"),
])
def test_event_time_is_accepted_up_to_the_wall_clock_plus_the_skew(
        trained: TrainedFixture, history: list[dict[str, Any]], offset_ms: int,
        accepted: bool) -> None:
    catalog = SchemaCatalog.default()
    customer = history[0]["customer_id"]
    record = _transaction(history, customer, "tx-probe", NOW_MS + offset_ms)
    metrics = WorkerMetrics()
    proc = processor(trained, catalog, metrics=metrics)
    result = proc.process(encode([record], catalog), DictStore())
    partition = _partition(customer)
    if accepted:
        assert [s.trigger_event_id for s in result.scores] == ["tx-probe"]
        assert not result.dead_letters
        assert proc.deadlines.stream_time(partition) == NOW_MS + offset_ms
        return
    assert not result.scores
    [letter] = result.dead_letters
    assert (letter.reason, letter.error_class) == ("event_time_in_future",
                                                   "EventTimeInFutureError")
    assert "MAX_EVENT_SKEW_SECONDS" in letter.error_message
    assert customer not in letter.error_message
    assert proc.deadlines.stream_time(partition) == 0  # the clock did not move
    assert metric(metrics, "predelinq_event_time_rejected_total",
                  topic="bank.transactions.v1") == 1
    assert metric(metrics, "predelinq_dead_letters_total", topic="bank.transactions.v1",
                  reason="event_time_in_future") == 1


def test_a_future_dated_event_fires_no_deadline_and_leaves_the_customer_on_time(
        trained: TrainedFixture, stored: DictStore, history: list[dict[str, Any]]) -> None:
    """The finding: one valid event dated 2099 fired every deadline of its partition at once,
    and the customer's later real events were "too late"."""
    catalog = SchemaCatalog.default()
    store = _copy(stored)
    customer = history[-1]["customer_id"]
    partition = _partition(customer)
    metrics = WorkerMetrics()
    proc = processor(trained, catalog, metrics=metrics)
    watermark = CustomerState.from_bytes(store.data[(partition, customer.encode())]).watermark
    real = _new([_transaction(history, customer, "tx-real", watermark + 1)], catalog)
    proc.process(real, store)
    proc.index_step(10**9)  # every stored customer of the partition is in the index
    clock, pending = proc.deadlines.stream_time(partition), proc.deadlines.pending(partition)
    assert pending >= 5  # quiet customers whose deadlines a jump would fire

    future = _new([_transaction(history, customer, "tx-2099", YEAR_2099_MS)], catalog)
    result = proc.process(future, store)

    assert [d.reason for d in result.dead_letters] == ["event_time_in_future"]
    assert not result.scores  # neither its own score nor a single deadline's
    assert (proc.deadlines.stream_time(partition), proc.deadlines.pending(partition)) == (
        clock, pending)
    assert metric(metrics, "predelinq_event_time_lead_seconds", partition=str(partition)) == (
        (clock - NOW_MS) / 1000)
    later = _new([_transaction(history, customer, "tx-later", watermark + DAY_MS)], catalog)
    after = proc.process(later, store)
    assert not after.dead_letters  # not "too late"
    assert ("tx-later", watermark + DAY_MS) in {(s.trigger_event_id, s.as_of)
                                                 for s in after.scores}


def test_a_stored_clock_beyond_the_skew_is_clamped_on_load(
        trained: TrainedFixture, stored: DictStore, history: list[dict[str, Any]],
        caplog: pytest.LogCaptureFixture) -> None:
    """A state that applied a future-dated event before such events were refused: on start
    (restart or takeover) its partition's clock is capped at the wall clock plus the skew,
    with a WARNING and a metric, and the customer's real events are applied again."""
    catalog = SchemaCatalog.default()
    store = _copy(stored)
    customer = history[-1]["customer_id"]
    partition = _partition(customer)
    key = (partition, customer.encode())
    poisoned = CustomerState.from_bytes(store.data[key])
    apply_event(poisoned, to_event(_transaction(history, customer, "tx-2099", YEAR_2099_MS)))
    store.data[key] = poisoned.to_bytes()
    other = next(r["customer_id"] for r in history
                 if _partition(r["customer_id"]) == partition and r["customer_id"] != customer)
    metrics = WorkerMetrics()
    proc = processor(trained, catalog, metrics=metrics)
    caplog.set_level(logging.WARNING, logger="stream_app.processing._processor")

    first = proc.process(_new([_transaction(history, other, "tx-other", NOW_MS - DAY_MS)],
                                catalog), store)
    proc.index_step(10**9)  # the restart's index of the stored customers

    assert not first.dead_letters
    assert proc.deadlines.stream_time(partition) == LATEST_MS
    assert metric(metrics, "predelinq_event_time_clamped_total") == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"input partition {partition}" in warning.getMessage()
    assert customer not in caplog.text
    # live traffic (a day old) is applied again: not "too late" against 2099
    later = _new([_transaction(history, customer, "tx-later", NOW_MS - DAY_MS)], catalog)
    after = proc.process(later, store)
    assert not after.dead_letters
    [score] = [s for s in after.scores if s.trigger_event_id == "tx-later"]
    assert score.as_of == LATEST_MS
    assert CustomerState.from_bytes(store.data[key]).watermark == LATEST_MS  # written back


def test_deadlines_fire_at_most_the_cap_per_batch_and_none_is_lost(
        trained: TrainedFixture, stored: DictStore, history: list[dict[str, Any]]) -> None:
    catalog = SchemaCatalog.default()
    customer = history[-1]["customer_id"]
    partition = _partition(customer)
    watermark = CustomerState.from_bytes(
        stored.data[(partition, customer.encode())]).watermark
    # a real jump: 60 days without traffic on the partition, then one event
    jump = _new([_transaction(history, customer, "tx-jump", watermark + 60 * DAY_MS)], catalog)

    def run(max_deadlines: int, metrics: WorkerMetrics) -> list[list[tuple[str, str]]]:
        proc = processor(trained, catalog, metrics=metrics, max_deadlines=max_deadlines)
        store = _copy(stored)
        batches = [_timers([proc.process(jump, store)])]
        proc.index_step(10**9)
        for _ in range(50):  # the same record again: a duplicate, the partition's next batch
            batches.append(_timers([proc.process(jump, store)]))
            if not batches[-1]:
                return batches
        raise AssertionError("deadlines kept firing")

    uncapped = run(10_000, WorkerMetrics())
    capped_metrics = WorkerMetrics()
    capped = run(3, capped_metrics)

    expected = [t for batch in uncapped for t in batch]
    assert len(expected) >= 7
    assert all(len(batch) <= 3 for batch in capped[1:])
    assert len([b for b in capped if b]) >= 3  # spread over several batches
    fired = [t for batch in capped for t in batch]
    assert sorted(fired) == sorted(expected)  # each one, once
    assert metric(capped_metrics, "predelinq_absence_deadlines_deferred_total") >= 2


# --- H2: future- and past-dated flags and contacts -----------------------------------------------

def _treatment_customer(history: list[dict[str, Any]]) -> str:
    experiment = POLICY.experiment
    return next(r["customer_id"] for r in history
                if not in_control_group(r["customer_id"], experiment.id,
                                        experiment.control_fraction))


@pytest.mark.parametrize(("first", "then"), [
    pytest.param((YEAR_2099_MS, {}), (NOW_MS - DAY_MS, {"opt_out_contact": True}),
                 id="a-2099-clear-cannot-hold-off-a-real-opt-out"),
    pytest.param((NOW_MS - DAY_MS, {}), (YEAR_2000_MS, {"opt_out_contact": True}),
                 id="a-far-past-opt-out-still-applies"),
    pytest.param((NOW_MS - DAY_MS, {}), (YEAR_2099_MS, {"deceased": True}),
                 id="a-far-future-deceased-flag-applies"),
])
def test_protective_flags_take_effect_whatever_their_event_time(
        trained: TrainedFixture, history: list[dict[str, Any]],
        first: tuple[int, dict[str, bool]], then: tuple[int, dict[str, bool]]) -> None:
    catalog = SchemaCatalog.default()
    customer = _treatment_customer(history)
    flags = [_flags_record(catalog, _flags(customer, f"flags-{i}", at, **set_), i)
             for i, (at, set_) in enumerate((first, then))]
    trigger = _new([_transaction(history, customer, "tx-now", NOW_MS - 3_600_000)], catalog)
    store = DictStore()
    metrics = WorkerMetrics()
    proc = processor(trained, catalog, metrics=metrics,
                     policy=policy_of(enabled=True, threshold=0))
    proc.process(flags, store)
    result = proc.process(trigger, store)

    [intervention] = result.interventions
    assert not intervention.actionable
    assert intervention.rule in {"opt_out", "deceased"}
    future = sum(at > LATEST_MS for at, _ in (first, then))
    assert metric(metrics, "predelinq_event_time_rejected_total",
                  topic=FLAGS_TOPIC) == future
    stored = ContactState.from_bytes(store.contacts[(_partition(customer), customer.encode())])
    assert stored.flags_at <= LATEST_MS  # no flags time in the future holds off later ones


@pytest.mark.parametrize("skew", [
    pytest.param(SKEW_S, id="refused-as-future"),
    pytest.param(60 * 86_400.0, id="accepted-within-a-large-skew"),
])
def test_a_future_dated_trigger_cannot_get_around_the_contact_caps(
        trained: TrainedFixture, history: list[dict[str, Any]], skew: float) -> None:
    """Contacts count by when they were made (the decision's wall clock): an event dated 20
    days ahead no longer lands its decision outside the 7-day cap's window."""
    catalog = SchemaCatalog.default()
    customer = _treatment_customer(history)
    store = DictStore()
    proc = processor(trained, catalog, skew=skew, policy=policy_of(enabled=True, threshold=0))
    now = proc.process(_new([_transaction(history, customer, "tx-now", NOW_MS - 60_000)],
                              catalog), store)
    assert [i.actionable for i in now.interventions] == [True]
    ahead = _new([_transaction(history, customer, "tx-ahead", NOW_MS + 20 * DAY_MS)],
                   catalog)
    result = proc.process(ahead, store)
    assert not [i for i in result.interventions if i.actionable]
    if skew == SKEW_S:
        assert [d.reason for d in result.dead_letters] == ["event_time_in_future"]
    else:
        [intervention] = result.interventions
        assert intervention.rule in {"cooldown", "cap_7d"}

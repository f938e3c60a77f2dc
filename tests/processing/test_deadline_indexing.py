"""After a restart (or a takeover) the absence-deadline index of a partition is rebuilt from
the stored customers a slice at a time between batches, never in one go on the event loop;
the rescorings it gives are the same as with the whole index built at once."""

from __future__ import annotations

from typing import Any

import pytest

from stream_app.features import Deadline
from stream_app.processing import TIMER_TOPIC, BatchProcessor, BatchResult, InputRecord
from stream_app.serializers import SchemaCatalog
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.processing.test_processor import DictStore, encode, make_processor
from tests.support.models import TrainedFixture

BATCH = 100


@pytest.fixture(scope="module")
def restart() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A simulated bank's log cut in two: the history before a restart, and what follows."""
    records = list(BankSimulator(SimulationConfig(customers=60, days=200, seed=5)).events())
    cut = int(len(records) * 0.7)
    return records[:cut], records[cut:]


def _history(trained: TrainedFixture, catalog: SchemaCatalog,
             history: list[dict[str, Any]]) -> DictStore:
    store = DictStore()
    before = make_processor(trained, catalog)
    inputs = encode(history, catalog)
    for i in range(0, len(inputs), BATCH):
        before.process(inputs[i : i + BATCH], store)
    return store


def _copy(store: DictStore) -> DictStore:
    copy = DictStore()
    copy.data, copy.contacts = dict(store.data), dict(store.contacts)
    return copy


def _after_restart(processor: BatchProcessor, store: DictStore, inputs: list[InputRecord],
                   slice_size: int | None) -> list[BatchResult]:
    """Batches after the restart; between batches, an index slice of ``slice_size``
    customers (None: the whole index right after the first batch)."""
    results = []
    for i in range(0, len(inputs), BATCH):
        results.append(processor.process(inputs[i : i + BATCH], store))
        processor.index_step(10**9 if slice_size is None else slice_size)
    return results


def _timer_scores(results: list[BatchResult]) -> dict[str, Any]:
    return {s.event_id: s for r in results for s in r.scores if s.trigger_topic == TIMER_TOPIC}


def test_the_index_built_in_slices_gives_the_same_rescorings(
        trained: TrainedFixture, restart: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    catalog = SchemaCatalog.default()
    history, after = restart
    store = _history(trained, catalog, history)
    inputs = encode(after, catalog, start_offset=len(history))

    whole = _after_restart(make_processor(trained, catalog), _copy(store), inputs, None)
    sliced_processor = make_processor(trained, catalog)
    sliced = _after_restart(sliced_processor, _copy(store), inputs, 1)

    assert sliced_processor.indexing_partitions == 0  # every slice was taken in the end
    expected = _timer_scores(whole)
    assert len(expected) >= 10  # quiet customers' deadlines did fire after the restart
    assert _timer_scores(sliced) == expected
    assert {s.event_id: s for r in sliced for s in r.scores} == {
        s.event_id: s for r in whole for s in r.scores}


T0 = 1_767_225_600_000
DAY = 86_400_000


def _tx(customer: str, day: int, *, salary: bool = False) -> dict[str, Any]:
    return {"type": "transaction", "event_id": f"{customer}-{day}", "customer_id": customer,
            "account_id": f"A-{customer}", "occurred_at": T0 + day * DAY + 9 * 3_600_000,
            "amount_minor": 300_000 if salary else 2_000, "currency": "EUR",
            "direction": "CREDIT" if salary else "DEBIT", "channel": "TRANSFER",
            "category": "SALARY" if salary else "GROCERIES", "status": "POSTED",
            "balance_after_minor": 10_000}


def test_an_event_never_passes_its_customers_deadline_unnoticed(
        trained: TrainedFixture) -> None:
    """Salaries every 30 days until day 60, stored before a restart, for a customer whose
    next salary comes on day 100 (C-001) and one who stays quiet (C-005); a third (C-009,
    same partition) buys something every day after the restart. The salary-missed deadline
    (day 94) of C-001 fires before its day-100 salary although no slice was indexed yet;
    C-005's waits for its slice, then fires at its partition's next batch."""
    catalog = SchemaCatalog.default()
    history = [_tx(c, d, salary=True) for d in (0, 30, 60) for c in ("C-001", "C-005")]
    store = _history(trained, catalog, history)
    after = sorted([_tx("C-009", d) for d in range(61, 110)] + [_tx("C-001", 100, salary=True)],
                   key=lambda r: r["occurred_at"])
    inputs = encode(after, catalog, json_every=0, start_offset=len(history))

    processor = make_processor(trained, catalog)
    result = processor.process(inputs[:-1], store)  # no index_step: nothing indexed yet
    assert processor.indexing_partitions == 1
    missed = f"{Deadline.SALARY}@{T0 + 94 * DAY}"
    assert [s.trigger_event_id for s in result.scores if s.customer_id == "C-001"] == [
        missed, "C-001-100"]
    assert not [s for s in result.scores if s.customer_id == "C-005"]

    assert processor.index_step(1) is True  # one customer per slice: C-005 is left
    assert processor.index_step(1) is False  # every stored customer is in the index
    assert processor.indexing_partitions == 0
    later = processor.process(inputs[-1:], store)
    assert [s.trigger_event_id for s in later.scores if s.customer_id == "C-005"] == [missed]

"""Absence detection: next_deadline and the per-partition DeadlineIndex (pure)."""

from __future__ import annotations

from stream_app.features import (
    FEATURE_NAMES,
    CustomerState,
    Deadline,
    DeadlineIndex,
    apply_event,
    feature_vector,
    next_deadline,
)
from stream_app.features._vector import DUE_SOON_DAYS, SALARY_GRACE_DAYS
from tests.support.events import DAY_MS, T0, at, epoch_day, salary, statement, tx

SALARY_MISSED = FEATURE_NAMES.index("salary_missed")
DUE_SOON = FEATURE_NAMES.index("due_soon_shortfall")


def _state(*events: object) -> CustomerState:
    state = CustomerState()
    for event in events:
        apply_event(state, event)  # type: ignore[arg-type]
    return state


def test_salary_deadline_is_the_first_day_the_missed_flag_switches_on() -> None:
    state = _state(salary(0), salary(30), salary(60))
    deadline = next_deadline(state, state.watermark)
    # cadence 30 days: the flag turns on once the delay exceeds the grace period
    expected_day = 60 + 30 + SALARY_GRACE_DAYS + 1
    assert deadline == (T0 + expected_day * DAY_MS, Deadline.SALARY)
    assert feature_vector(state, deadline[0] - 1)[SALARY_MISSED] == 0.0
    assert feature_vector(state, deadline[0])[SALARY_MISSED] == 1.0


def test_no_salary_deadline_without_a_cadence_and_none_once_passed() -> None:
    assert next_deadline(_state(salary(0)), at(0)) is None
    state = _state(salary(0), salary(30))
    first = next_deadline(state, state.watermark)
    assert first is not None
    assert next_deadline(state, first[0]) is None  # already missed: nothing further to fire


def test_a_new_salary_moves_the_deadline() -> None:
    state = _state(salary(0), salary(30))
    before = next_deadline(state, state.watermark)
    apply_event(state, salary(60))
    after = next_deadline(state, state.watermark)
    assert before is not None
    assert after is not None
    assert after[0] == before[0] + 30 * DAY_MS


def test_due_soon_deadline_when_the_balance_cannot_cover_the_minimum() -> None:
    state = _state(tx(0, 100, balance=5_000),
                   statement(1, balance=80_000, minimum=20_000, due_day=21))
    deadline = next_deadline(state, state.watermark)
    assert deadline == (T0 + (21 - DUE_SOON_DAYS) * DAY_MS, Deadline.DUE_SOON)
    assert feature_vector(state, deadline[0] - 1)[DUE_SOON] == 0.0
    assert feature_vector(state, deadline[0])[DUE_SOON] == 1.0


def test_no_due_soon_deadline_when_the_balance_covers_it() -> None:
    state = _state(tx(0, 100, balance=50_000),
                   statement(1, balance=80_000, minimum=20_000, due_day=21))
    assert next_deadline(state, state.watermark) is None


def test_index_fires_by_partition_stream_time_and_keeps_the_latest_schedule() -> None:
    index = DeadlineIndex()
    index.schedule(0, "a", (100, Deadline.SALARY))
    index.schedule(0, "b", (300, Deadline.DUE_SOON))
    index.schedule(1, "c", (100, Deadline.SALARY))
    index.schedule(0, "a", (200, Deadline.SALARY))  # supersedes 100
    index.observe(0, 150)
    assert index.due(0) == []
    index.observe(0, 250)
    index.observe(0, 120)  # stream time never goes back
    fired = index.due(0)
    assert [(d.customer_id, d.at_ms) for d in fired] == [("a", 200)]
    assert index.due(1) == []  # partition 1 has not advanced
    index.schedule(0, "b", None)
    index.observe(0, 1_000)
    assert index.due(0) == []
    assert index.pop_if_due(1, "c", 99) is None
    due = index.pop_if_due(1, "c", 100)
    assert due is not None
    assert due.at_ms == 100
    assert index.pending(1) == 0
    index.drop_partition(0)
    assert index.stream_time(0) == 0


def test_epoch_day_helper_matches_the_deadline_arithmetic() -> None:
    assert epoch_day(10) * DAY_MS == T0 + 10 * DAY_MS


def test_a_fired_deadline_is_not_scheduled_again_by_older_events() -> None:
    """The partition's time passed the deadline; then an older event of the customer arrives
    (from a lagging topic): the deadline has fired already and must not fire twice."""
    index = DeadlineIndex()
    state = _state(salary(0), salary(30))
    deadline = next_deadline(state, state.watermark)
    assert deadline is not None
    index.schedule(0, "C1", deadline)
    index.observe(0, deadline[0] + DAY_MS)
    assert [d.at_ms for d in index.due(0)] == [deadline[0]]
    apply_event(state, tx(40, 500))  # older than the deadline, newer than the salaries
    after = index.after(0, "C1", state.watermark)
    assert after == deadline[0]
    index.schedule(0, "C1", next_deadline(state, after))
    assert index.due(0) == []
    # once the customer's own events pass the fired deadline, it is forgotten
    assert index.after(0, "C1", deadline[0] + 1) == deadline[0] + 1


def _index_with_due(count: int, partition: int = 3) -> DeadlineIndex:
    index = DeadlineIndex()
    for i in range(count):
        index.schedule(partition, f"c-{i}", (T0 + i * DAY_MS, Deadline.SALARY))
    index.observe(partition, T0 + count * DAY_MS)  # every one of them is due
    return index


def test_due_returns_at_most_the_limit_earliest_first_and_keeps_the_rest() -> None:
    index = _index_with_due(5)
    assert [d.customer_id for d in index.due(3, 2)] == ["c-0", "c-1"]
    assert index.has_due(3)
    assert index.pending(3) == 3
    assert [d.customer_id for d in index.due(3, 2)] == ["c-2", "c-3"]
    assert index.due(3, 0) == []
    assert [d.customer_id for d in index.due(3, 2)] == ["c-4"]
    assert not index.has_due(3)
    assert index.due(3) == []


def test_has_due_ignores_superseded_and_future_deadlines() -> None:
    index = DeadlineIndex()
    index.schedule(0, "c-1", (T0, Deadline.SALARY))
    index.schedule(0, "c-1", (T0 + 10 * DAY_MS, Deadline.SALARY))  # supersedes the first
    index.observe(0, T0 + DAY_MS)
    assert not index.has_due(0)
    index.observe(0, T0 + 10 * DAY_MS)
    assert index.has_due(0)
    assert [d.at_ms for d in index.due(0, 1)] == [T0 + 10 * DAY_MS]

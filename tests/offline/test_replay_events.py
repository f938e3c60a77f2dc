"""Offline replay at every event, with absence deadlines fired by the log's event time."""

from __future__ import annotations

from typing import Any

from stream_app.features import FEATURE_NAMES, Deadline
from stream_app.offline import ReplayStats, replay_events

T0 = 1_767_225_600_000
DAY = 86_400_000
SALARY_MISSED = FEATURE_NAMES.index("salary_missed")


def _tx(customer: str, day: int, n: int, *, category: str = "GROCERIES",
        direction: str = "DEBIT", amount: int = 2_000) -> dict[str, Any]:
    return {"type": "transaction", "event_id": f"{customer}-{n}", "customer_id": customer,
            "account_id": f"A-{customer}", "occurred_at": T0 + day * DAY + 9 * 3_600_000,
            "amount_minor": amount, "currency": "EUR", "direction": direction,
            "channel": "TRANSFER", "category": category, "status": "POSTED",
            "balance_after_minor": 10_000}


def _log() -> list[dict[str, Any]]:
    """A: salaries on days 0, 30, 60 then silence; B: a purchase every day for 120 days."""
    records = []
    for day in range(120):
        if day in (0, 30, 60):
            records.append(_tx("A", day, day, category="SALARY", direction="CREDIT",
                               amount=300_000))
        records.append(_tx("B", day, day))
    return records


def test_every_applied_event_gives_a_row_at_the_customer_watermark() -> None:
    stats = ReplayStats()
    rows = list(replay_events(_log(), stats, absence_deadlines=False))
    assert len(rows) == stats.applied == 123
    assert all(row.trigger.startswith(("A-", "B-")) for row in rows)
    last_b = [r for r in rows if r.customer_id == "B"][-1]
    assert last_b.as_of == T0 + 119 * DAY + 9 * 3_600_000


def test_a_missed_salary_is_rescored_when_the_log_time_passes_the_deadline() -> None:
    rows = list(replay_events(_log()))
    timer_rows = [r for r in rows if not r.trigger.startswith(("A-", "B-"))]
    deadline_day = 60 + 30 + 3 + 1
    assert [(r.customer_id, r.trigger) for r in timer_rows] == [
        ("A", f"{Deadline.SALARY}@{T0 + deadline_day * DAY}")]
    timer = timer_rows[0]
    assert timer.vector[SALARY_MISSED] == 1.0
    # it comes right after the first event of the log that passed the deadline
    position = rows.index(timer)
    assert rows[position - 1].as_of >= timer.as_of
    assert all(r.as_of < timer.as_of for r in rows[:position - 1])
    # A's last event-triggered row still said "not missed"
    last_a = [r for r in rows[:position] if r.customer_id == "A"][-1]
    assert last_a.vector[SALARY_MISSED] == 0.0


def test_a_customer_event_past_its_own_deadline_fires_the_deadline_first() -> None:
    # only A in the log: its own late salary passes the deadline, which fires before it
    records = [_tx("A", d, d, category="SALARY", direction="CREDIT", amount=300_000)
               for d in (0, 30, 60, 100)]
    rows = list(replay_events(records))
    triggers = [r.trigger for r in rows]
    assert triggers[:3] == ["A-0", "A-30", "A-60"]
    assert triggers[3].startswith(Deadline.SALARY)
    assert rows[3].vector[SALARY_MISSED] == 1.0
    assert triggers[4] == "A-100"
    assert rows[4].vector[SALARY_MISSED] == 0.0

"""The numba kernels of _kernel_vector against the reference functions, bit for bit.

Reference states are built with the reference ``apply_event`` (hypothesis event sets, hand-made
histories and a simulated bank's logs), written into the fixed layout with ``state_to_record``
and compared at many as-of times: the kernel's vector with ``feature_vector`` (the same float64
bits, no NaN) and its deadline with ``next_deadline``, for the original state and for its
``record_to_state`` copy.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events import InputEvent
from stream_app.features import (
    DAY_MS,
    FEATURE_NAMES,
    Applied,
    CustomerState,
    apply_event,
    feature_index,
    feature_vector,
    next_deadline,
)
from stream_app.features._kernel_vector import (
    DUE_SOON,
    NO_DEADLINE,
    SALARY_MISSED,
    WIDTH,
    _py_square,
    features_batch,
    features_into,
    next_deadline_of,
    next_deadline_record,
)
from stream_app.features._layout import empty_records, record_to_state, state_to_record
from stream_app.features._state import INT32_MAX, MINUTE_MS
from stream_app.offline import to_event
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.features.test_properties import ACCOUNTS, amounts, balances, dues, event_sets, paid
from tests.features.test_properties import _event as _drawn_event
from tests.support.events import DAY0, T0, at, pay, salary, statement, tx

HOUR_MS = 3_600_000
KERNEL_SETTINGS = settings(max_examples=60, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow])


# --- comparison --------------------------------------------------------------------------------

def _record(state: CustomerState) -> np.ndarray:
    records = empty_records(3)  # the state in the middle slot: index is honoured
    state_to_record(state, records, 1)
    return records


def _differences(got: np.ndarray, expected: list[float]) -> list[str]:
    return [f"{FEATURE_NAMES[i]}: kernel {got[i]!r} reference {expected[i]!r}"
            for i in range(WIDTH)
            if np.float64(got[i]).view(np.int64) != np.float64(expected[i]).view(np.int64)]


def as_of_points(state: CustomerState, extra: Iterable[int] = ()) -> list[int]:
    """The watermark, times before and after it (day boundaries, days and months later),
    before the first event, and the boundaries of the due dates and paydays it holds."""
    mark, first = state.watermark, state.first_seen
    day = mark // DAY_MS
    points = {mark, mark - 1, mark + 1, mark - DAY_MS, mark + HOUR_MS, first, first - 1,
              first - 3 * DAY_MS, (first + mark) // 2, first + 60 * DAY_MS,
              first + 60 * DAY_MS - 1, *extra}
    for days in (1, 2, 3, 4, 5, 8, 15, 29, 35, 61, 91, 95, 181, 200, 366, 400):
        points |= {(day + days) * DAY_MS, (day + days) * DAY_MS - 1, mark + days * DAY_MS}
    for product in state.products.values():
        due_days = [s[3] for s in product.statements] + [i[2] for i in product.instalments]
        for due_day in due_days:
            for d in (due_day - 3, due_day, due_day + 1, due_day + 180):
                points |= {d * DAY_MS - 1, d * DAY_MS}
        for period in product.dpd_monthly:
            points |= {(period + 6) * 30 * DAY_MS, (period + 12) * 30 * DAY_MS - 1}
        points |= {(product.first_seen_min + 90 * 1440) * MINUTE_MS,
                   (product.first_seen_min + 90 * 1440 + 1) * MINUTE_MS}
    for salary_day, _ in state.salaries:
        for d in (salary_day, salary_day + 30, salary_day + 34, salary_day + 35):
            points |= {d * DAY_MS - 1, d * DAY_MS}
    return sorted(p for p in points if p >= 0)


def check(state: CustomerState, points: Sequence[int] | None = None, *,
          layout: bool = True) -> None:
    """The kernels equal the reference at ``points`` (default: ``as_of_points(state)``); with
    ``layout``, the reference also gives the same results on the record's ``record_to_state``
    copy (else the layout, not the kernel, would be wrong)."""
    points = as_of_points(state) if points is None else points
    records = _record(state)
    restored = record_to_state(records, 1)
    rows = np.full((len(points), WIDTH), np.nan)
    features_batch(records, np.full(len(points), 1, np.int64), np.array(points, np.int64),
                   rows)
    assert np.isfinite(rows).all()
    single = np.full((2, WIDTH), np.nan)
    for as_of, row in zip(points, rows, strict=True):
        expected = feature_vector(state, as_of)
        if layout:
            assert feature_vector(restored, as_of) == expected, f"layout, as of {as_of}"
        assert not _differences(row, expected), (as_of, _differences(row, expected))
        features_into(records, 1, as_of, single, 1)
        assert single[1].tobytes() == row.tobytes()
        deadline = next_deadline(state, as_of)
        if layout:
            assert next_deadline(restored, as_of) == deadline, f"layout, after {as_of}"
        assert next_deadline_record(records, 1, as_of) == deadline, as_of


def apply_all(events: Iterable[InputEvent], state: CustomerState | None = None,
              *, each: bool = False) -> CustomerState:
    """Apply ``events`` in order; with ``each``, check at the watermark after every event."""
    state = CustomerState() if state is None else state
    for event in events:
        assert apply_event(state, event) in (Applied.APPLIED, Applied.DUPLICATE,
                                             Applied.TOO_LATE)
        if each:
            mark = state.watermark
            check(state, [mark, mark + DAY_MS, (mark // DAY_MS + 1) * DAY_MS - 1])
    return state


# --- event strategies over a longer span than test_properties (maturity, 13 weeks, dpd periods)

long_times = st.builds(at, st.integers(-20, 240), st.integers(0, 23), st.sampled_from([0, 30]))
long_due_days = st.sampled_from([DAY0 + d for d in (-5, 3, 10, 20, 40, 80, 150, 230, 250)])


@st.composite
def long_transactions(draw: st.DrawFn) -> dict[str, object]:
    category = draw(st.sampled_from(["SALARY", "BENEFITS", "GROCERIES", "RENT", "DISCRETIONARY",
                                     "ATM_CASH", "LENDING_APP", "BNPL", "GAMBLING",
                                     "SAVINGS_TRANSFER", "OTHER"]))
    status = draw(st.sampled_from(["POSTED", "POSTED", "POSTED", "DECLINED", "RETURNED"]))
    return {
        "source": "tx",
        "occurred_at": draw(long_times),
        "amount_minor": draw(amounts),
        "direction": draw(st.sampled_from(["CREDIT", "DEBIT"])),
        "channel": draw(st.sampled_from(["CARD", "ATM", "DIRECT_DEBIT", "TRANSFER"])),
        "category": category,
        "status": status,
        "decline_reason": None if status == "POSTED" else draw(
            st.sampled_from([None, "INSUFFICIENT_FUNDS"])),
        "balance_after_minor": draw(st.none() | st.integers(-1_000_000, 1_000_000)),
    }


@st.composite
def long_payments(draw: st.DrawFn) -> dict[str, object]:
    account = draw(st.sampled_from(sorted(ACCOUNTS)))
    kind = draw(st.sampled_from(["STATEMENT_ISSUED", "INSTALMENT_DUE", "PAYMENT_RECEIVED",
                                 "PAYMENT_RECEIVED", "PAYMENT_FAILED", "DELINQUENCY_STATUS"]))
    fields: dict[str, object] = {"source": "payment", "kind": kind, "account_id": account,
                                 "product": ACCOUNTS[account], "occurred_at": draw(long_times)}
    if kind == "STATEMENT_ISSUED":
        balance = draw(balances)
        fields |= {"statement_balance_minor": balance,
                   "minimum_due_minor": min(draw(dues), balance) if balance > 0 else 0,
                   "credit_limit_minor": draw(st.none() | st.integers(0, 1_000_000)),
                   "due_date": draw(long_due_days)}
    elif kind == "INSTALMENT_DUE":
        fields |= {"amount_due_minor": draw(dues), "due_date": draw(long_due_days)}
    elif kind in ("PAYMENT_RECEIVED", "PAYMENT_FAILED"):
        fields |= {"amount_minor": draw(paid)}
    else:
        fields["days_past_due"] = draw(st.integers(0, 120))
    return fields


def _event(index: int, fields: dict[str, object]) -> InputEvent:
    return _drawn_event(index, fields, prefix="K")


# mostly in time order (each source's events at most 35 days late are applied, others refused)
long_event_lists = st.lists(st.one_of(long_transactions(), long_payments()), min_size=1,
                            max_size=60).map(
    lambda items: sorted((_event(i, f) for i, f in enumerate(items)),
                         key=lambda e: e.occurred_at + (e.occurred_at % 7) * 5 * DAY_MS))


@KERNEL_SETTINGS
@given(events=event_sets)
def test_equal_to_the_reference_after_every_event_of_any_event_set(
        events: list[InputEvent]) -> None:
    state = apply_all(events, each=True)
    check(state)


@KERNEL_SETTINGS
@given(events=long_event_lists, offsets=st.lists(st.integers(-400 * DAY_MS, 400 * DAY_MS),
                                                 max_size=8))
def test_equal_to_the_reference_over_months_of_events(events: list[InputEvent],
                                                      offsets: list[int]) -> None:
    state = apply_all(events, each=True)
    check(state, as_of_points(state, [state.watermark + o for o in offsets]))


@KERNEL_SETTINGS
@given(gaps=st.lists(st.integers(1, 45), min_size=0, max_size=10),
       amounts_=st.lists(st.integers(1, INT32_MAX) | st.sampled_from([1, 300_000]),
                         min_size=11, max_size=11),
       after=st.integers(-5, 120))
def test_salaries_of_any_cadence(gaps: list[int], amounts_: list[int], after: int) -> None:
    days = [0]
    for gap in gaps:
        days.append(days[-1] + gap)
    state = apply_all([salary(d, a, balance=a // 3) for d, a in zip(days, amounts_, strict=False)])
    check(state, [*as_of_points(state), at(days[-1] + after), at(days[-1] + after, 0, 0)])


# --- hand-made cases ---------------------------------------------------------------------------

def test_cold_start() -> None:
    state = CustomerState()
    check(state, [-DAY_MS - 1, -1, 0, 1, DAY_MS - 1, T0, T0 + 12 * HOUR_MS, T0 + 400 * DAY_MS])
    records = empty_records(1)
    assert next_deadline_of(records, 0, T0) == NO_DEADLINE
    assert next_deadline_record(records, 0, T0) is None


@pytest.mark.parametrize("paydays", [
    [0], [0, 30], [0, 30, 61], [0, 30, 61, 89], [0, 28, 59, 90, 120],
    [0, 14, 28, 42, 56, 70, 84, 98, 112, 126],  # more than the 8 kept
    [0, 31, 31 + 45, 31 + 45 + 20, 31 + 45 + 20 + 30, 31 + 45 + 20 + 30 + 29],
])
def test_salaries_with_even_and_odd_gap_counts(paydays: list[int]) -> None:
    state = apply_all([salary(d, 300_000 + 1_000 * i, balance=50_000)
                       for i, d in enumerate(paydays)], each=True)
    check(state)
    last = paydays[-1]
    check(state, [at(last + d, h) for d in range(0, 50) for h in (0, 23)])


def _card_month(month: int, balance: int, minimum: int, limit: int | None, paid_: int | None,
                *, account: str = "CC-1", product: str = "CREDIT_CARD") -> list[InputEvent]:
    issued = 30 * month
    events: list[InputEvent] = [statement(issued, balance, minimum, issued + 21, limit,
                                          account=account, product=product)]
    if paid_ is not None:
        events.append(pay(issued + 18, "PAYMENT_RECEIVED", amount=paid_, account=account,
                          product=product))
    return events


def _daily_spending(days: range, balance_start: int = 200_000) -> list[InputEvent]:
    events: list[InputEvent] = []
    balance = balance_start
    for d in days:
        balance -= 3_000 + 700 * (d % 5)
        events.append(tx(d, 3_000 + 700 * (d % 5), category="GROCERIES" if d % 2 else
                         "DISCRETIONARY", balance=balance))
        if d % 30 == 1:
            balance += 250_000
            events.append(salary(d, 250_000, balance=balance, hour=6))
    return events


def _by_time(events: list[InputEvent]) -> list[InputEvent]:
    return sorted(events, key=lambda e: e.occurred_at)


@pytest.mark.parametrize("limits", [
    [100_000] * 6,  # revolving with a limit
    [None] * 6,  # no limit: no utilisation
    [None, 100_000, None, 80_000, 80_000, 60_000],  # some statements without one
    [50_000, 100_000, 100_000, 120_000, 30_000, 30_000],  # cuts and raises
])
def test_revolving_products_with_and_without_limits(limits: list[int | None]) -> None:
    events = _daily_spending(range(0, 200))
    balances_ = [20_000, 45_000, 61_000, 70_000, 88_000, 95_000]
    for month, (limit, balance) in enumerate(zip(limits, balances_, strict=True)):
        events += _card_month(month, balance, balance // 20, limit, balance // 20)
        events += _card_month(month, -500 + balance // 3, 0, limit, None, account="OD-1",
                              product="OVERDRAFT")
    state = apply_all(_by_time(events))
    check(state)


def test_minimum_only_payments_and_shares() -> None:
    events = _daily_spending(range(0, 220))
    for month in range(7):
        balance = 100_000 + 10_000 * month
        minimum = 5_000
        paid_ = [minimum, int(1.1 * minimum), minimum + 1, balance, 0, minimum, 4_999][month]
        events += _card_month(month, balance, minimum, 200_000, paid_ or None)
    state = apply_all(_by_time(events), each=True)
    check(state)


def test_instalments_and_payment_allocation_across_items() -> None:
    events = _daily_spending(range(0, 150), balance_start=30_000)
    loan = {"account": "LN-1", "product": "PERSONAL_LOAN"}
    for month in range(5):
        issued = 30 * month + 2
        events.append(pay(issued, "INSTALMENT_DUE", amount_due=12_000, due_day=issued + 14,
                          **loan))  # type: ignore[arg-type]
    # short, late, lump-sum and excess payments, some before the item is issued
    for day, amount in ((1, 5_000), (15, 6_000), (20, 8_000), (50, 30_000), (61, 1),
                        (95, 12_000), (96, 12_000), (130, 50_000)):
        events.append(pay(day, "PAYMENT_RECEIVED", amount=amount, **loan))  # type: ignore[arg-type]
    events += _card_month(0, 40_000, 2_000, 100_000, None)
    events += _card_month(1, 42_000, 2_100, 100_000, 1_000)
    events.append(pay(75, "PAYMENT_RECEIVED", amount=80_000))
    events.append(pay(76, "PAYMENT_FAILED", amount=2_000))
    state = apply_all(_by_time(events), each=True)
    check(state)


def test_arrears_and_days_past_due_history() -> None:
    events = _daily_spending(range(0, 60))
    for day in range(0, 480, 9):  # over 13 periods: the oldest are dropped
        dpd = [0, 5, 33, 0, 61, 0, 0, 92][(day // 9) % 8]
        events.append(pay(day, "DELINQUENCY_STATUS", dpd=dpd, account="LN-1",
                          product="PERSONAL_LOAN"))
        if day % 27 == 0:
            events.append(pay(day, "DELINQUENCY_STATUS", dpd=dpd // 2, account="CC-1"))
            events.append(pay(day, "INSTALMENT_DUE", amount_due=9_000, due_day=day + 10,
                              account="LN-1", product="PERSONAL_LOAN"))
    state = apply_all(_by_time(events))
    check(state)


def test_statements_not_yet_due_and_due_soon_deadlines() -> None:
    events = [tx(0, 1_000, balance=5_000), tx(40, 1_000, balance=2_000)]
    events.append(statement(30, 80_000, 8_000, 55, 100_000))
    events.append(statement(38, 70_000, 0, 45, 100_000, account="OD-1", product="OVERDRAFT"))
    events.append(pay(39, "INSTALMENT_DUE", amount_due=3_000, due_day=43, account="LN-1",
                      product="PERSONAL_LOAN"))
    events.append(pay(41, "PAYMENT_RECEIVED", amount=500, account="LN-1",
                      product="PERSONAL_LOAN"))
    state = apply_all(_by_time(events), each=True)
    check(state, [*as_of_points(state), *(at(d, h) for d in range(38, 60) for h in (0, 12))])
    records = _record(state)
    # the instalment due on day 43 (3 days before: day 40), then the statement due on day 55
    assert next_deadline_of(records, 1, at(39, 13)) == (T0 + 40 * DAY_MS, DUE_SOON)
    assert next_deadline_of(records, 1, at(41)) == (T0 + 52 * DAY_MS, DUE_SOON)


def test_a_salary_deadline_and_a_due_soon_deadline_at_the_same_time() -> None:
    # paydays 30 days apart: salary_missed from day 60 + 30 + 3 + 1 = 94 on; a statement due on
    # day 97 (due-soon from day 94) ties with it: due-soon wins, as "due-soon" < "salary-missed"
    events = [salary(0, balance=1_000), salary(30, balance=1_000), salary(60, balance=100),
              statement(62, 50_000, 40_000, 97, 100_000)]
    state = apply_all(events)
    check(state)
    records = _record(state)
    assert next_deadline(state, at(63)) == (T0 + 94 * DAY_MS, "due-soon")
    assert next_deadline_of(records, 1, at(63)) == (T0 + 94 * DAY_MS, DUE_SOON)
    later = apply_all([pay(63, "PAYMENT_RECEIVED", amount=40_000)], state)
    assert next_deadline_of(_record(later), 1, at(63)) == (T0 + 94 * DAY_MS, SALARY_MISSED)
    check(later)


def test_four_products() -> None:
    events = _daily_spending(range(0, 190))
    for month in range(6):
        events += _card_month(month, 30_000 + 9_000 * month, 1_500 + 400 * month, 100_000,
                              1_500 + 300 * month)
        events += _card_month(month, -2_000 + 7_000 * month, 0, 50_000, None, account="OD-1",
                              product="OVERDRAFT")
        events.append(pay(30 * month + 5, "INSTALMENT_DUE", amount_due=11_000,
                          due_day=30 * month + 19, account="LN-1", product="PERSONAL_LOAN"))
        events.append(pay(30 * month + 20, "PAYMENT_RECEIVED", amount=11_000 - 2_000 * month,
                          account="LN-1", product="PERSONAL_LOAN"))
        events.append(pay(30 * month + 75, "INSTALMENT_DUE", amount_due=4_000,
                          due_day=30 * month + 86, account="BN-1", product="BNPL"))
        events.append(pay(30 * month + 80, "DELINQUENCY_STATUS", dpd=month * 7,
                          account="BN-1", product="BNPL"))
    state = apply_all(_by_time(events))
    assert len(state.products) == 4
    check(state, [*as_of_points(state), -1, -45 * DAY_MS - 7])  # before 1970 too
    assert feature_vector(state, state.watermark)[feature_index("credit_products")] == 4.0


def test_saturated_amounts() -> None:
    big = INT32_MAX
    events = [salary(d, big, balance=big) for d in (0, 30, 61, 90)]
    events += [tx(d, big, category="GAMBLING", balance=-big) for d in range(0, 100, 3)]
    events += [statement(m * 30, big, big, m * 30 + 20, big) for m in range(4)]
    events += [pay(m * 30 + 10, "PAYMENT_RECEIVED", amount=big) for m in range(4)]
    state = apply_all(_by_time(events))
    check(state)


def test_python_square_is_cpythons_float_power() -> None:
    rng = random.Random(3)
    values = [rng.uniform(-1e6, 1e6) * rng.choice([1e-9, 1e-3, 1.0, 1e3]) for _ in range(20_000)]
    values += [0.0, -0.0, 1.0, -2.5, 1e-300, 1e150]
    assert [_py_square(x) for x in values] == [x ** 2 for x in values]
    # the point: a multiplication would differ for some of them
    assert any(x * x != x ** 2 for x in values)


def test_batch_rows_follow_index_and_as_of() -> None:
    states = [apply_all(_daily_spending(range(0, n))) for n in (10, 70, 130)]
    records = empty_records(len(states))
    for i, state in enumerate(states):
        state_to_record(state, records, i)
    index = np.array([2, 0, 1, 2, 0], np.int64)
    as_of = np.array([at(129), at(9), at(69), at(200), at(3)], np.int64)
    out = np.full((len(index), WIDTH), np.nan)
    features_batch(records, index, as_of, out)
    for r in range(len(index)):
        assert out[r].tolist() == feature_vector(states[index[r]], int(as_of[r]))


# --- a simulated bank --------------------------------------------------------------------------

@pytest.mark.parametrize(("scenario", "customers", "days", "seed"), [
    ("reference", 200, 200, 5),
    ("hard", 80, 200, 9),
])
def test_equal_to_the_reference_on_simulated_logs(scenario: str, customers: int, days: int,
                                                  seed: int) -> None:
    simulator = BankSimulator(SimulationConfig(customers=customers, days=days, seed=seed,
                                               scenario=scenario))
    states: dict[str, CustomerState] = {}
    checked = 0
    for day_index, (_, records) in enumerate(simulator.days()):
        touched: set[str] = set()
        for record in records:
            event = to_event(record)
            state = states.setdefault(event.customer_id, CustomerState())
            assert apply_event(state, event) is Applied.APPLIED
            touched.add(event.customer_id)
        if day_index % 10 == 9:  # at the end of the day, and as time passes without events
            for customer in sorted(touched):
                state = states[customer]
                mark = state.watermark
                check(state, [mark, (mark // DAY_MS + 1) * DAY_MS - 1, mark + 40 * DAY_MS],
                      layout=False)
                checked += 1
    assert checked > customers * 12
    for state in states.values():
        mark = state.watermark
        check(state, [mark, state.first_seen - 1, (state.first_seen + mark) // 2,
                      mark + 2 * DAY_MS, mark + 20 * DAY_MS, mark + 100 * DAY_MS])
    assert max(len(s.products) for s in states.values()) >= 2


def test_allocation_ties_on_the_due_day_go_to_the_item_issued_first() -> None:
    # one due day for both items: the instalment, issued first, is paid first; the statement
    # then receives the rest late (a payment received after its due date)
    events = [tx(0, 1_000, balance=50_000),
              pay(5, "INSTALMENT_DUE", amount_due=3_000, due_day=30),
              statement(10, 60_000, 5_000, 30, 100_000),
              pay(12, "PAYMENT_RECEIVED", amount=4_000),
              pay(35, "PAYMENT_RECEIVED", amount=1_000),
              pay(36, "PAYMENT_RECEIVED", amount=3_000)]
    state = apply_all(events, each=True)
    check(state)
    f = feature_vector(state, at(40))
    assert f[feature_index("late_payments_6m")] == 1.0
    assert f[feature_index("late_payments_received_6m")] == 1.0


@pytest.mark.parametrize("minute", [-1, 0, 1])
def test_an_arrears_run_at_the_end_of_the_due_day(minute: int) -> None:
    # the amount past due counts until an arrears run reports after the due day has ended
    due_day = 30
    run_at = T0 + (due_day + 1) * DAY_MS + minute * MINUTE_MS
    events = [tx(0, 1_000, balance=50_000), statement(10, 60_000, 5_000, due_day, 100_000),
              pay(12, "PAYMENT_RECEIVED", amount=1_000),
              pay(0, "DELINQUENCY_STATUS", dpd=0, occurred_at=run_at)]
    state = apply_all(events)
    check(state, [*as_of_points(state), run_at, run_at + DAY_MS])
    past_due = feature_vector(state, run_at + DAY_MS)[feature_index("amount_past_due_minor")]
    assert past_due == (4_000.0 if minute < 0 else 0.0)

"""The numba kernel (``_kernel_apply``) equals the reference ``apply_event``, byte for byte.

Every test applies each event to a reference ``CustomerState`` and, encoded, to a fixed-layout
record; after every event the outcomes must agree and ``record_bytes`` of the record must equal
``CustomerState.to_bytes()`` (both in the canonical form of ``_layout``).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events import (
    CATEGORIES,
    CHANNELS,
    DIRECTIONS,
    PAYMENT_KINDS,
    PRODUCTS,
    TRANSACTION_STATUSES,
    CustomerFlags,
    InputEvent,
    Payment,
    Transaction,
)
from stream_app.features._kernel_apply import (
    APPLIED,
    CATEGORY_CODES,
    DUPLICATE,
    EVENT,
    IGNORED,
    KIND_CODES,
    REREAD,
    TOO_LATE,
    apply_all,
    apply_one,
    encode_events,
    new_events,
)
from stream_app.features._layout import (
    empty_records,
    record_bytes,
    record_to_state,
    state_to_record,
)
from stream_app.features._state import (
    COUNT_MAX,
    DAY_MS,
    DPD_MONTHS,
    HORIZON_WEEKS,
    INT32_MAX,
    MAX_DEDUP_IDS,
    MAX_INSTALMENTS,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_STATEMENTS,
    Col,
    CustomerState,
    ProductState,
    week_of_day,
)
from stream_app.features._update import Applied, _account_key, apply_event, event_key
from stream_app.offline import to_event
from stream_app.serializers._validation import MAX_AMOUNT_MINOR
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.features.test_properties import event_sets
from tests.support.events import DAY0, at, flags, pay, salary, statement, tx

OUTCOME = {Applied.APPLIED: APPLIED, Applied.DUPLICATE: DUPLICATE,
           Applied.TOO_LATE: TOO_LATE, Applied.IGNORED: IGNORED, Applied.REREAD: REREAD}
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _replay(events: Sequence[InputEvent], state: CustomerState | None = None,
            *, check_every: int = 1) -> tuple[CustomerState, np.ndarray, list[int]]:
    """Apply ``events`` to the reference state (new if None) and to its record; compare the
    outcomes after every event and the bytes every ``check_every`` events and at the end."""
    state = CustomerState() if state is None else state
    records = empty_records(3)  # the customer in row 1: its neighbours must stay untouched
    state_to_record(state, records, 1)
    assert record_bytes(records, 1) == state.to_bytes()
    neighbours = records[[0, 2]].tobytes()
    encoded = new_events(len(events) + 2)
    encode_events(events, encoded)
    outcomes = []
    for j, event in enumerate(events):
        expected = OUTCOME[apply_event(state, event)]
        outcome = apply_one(records, 1, encoded, j)
        assert outcome == expected, (j, event)
        outcomes.append(outcome)
        if j % check_every == 0 or j == len(events) - 1:
            assert record_bytes(records, 1) == state.to_bytes(), (j, event)
    assert records[[0, 2]].tobytes() == neighbours
    return state, records, outcomes


# --- strategies: wider than the order-independence properties' (lateness, horizon, caps) ---
ACCOUNTS = {f"AC-{i}": product for i, product in enumerate(sorted(PRODUCTS))}  # 7 > 4 products
times = st.builds(at, st.integers(-40, 200), st.integers(0, 23), st.sampled_from([0, 1, 30]))
amounts = st.sampled_from([1, 5_000, MAX_AMOUNT_MINOR, INT32_MAX, INT32_MAX + 1]) | st.integers(
    1, MAX_AMOUNT_MINOR)
signed = st.sampled_from([0, -1, -MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR, -(2**31), 2**31]) | (
    st.integers(-MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR))
due_dates = st.sampled_from([DAY0 + d for d in (-5, 3, 10, 40)]) | st.integers(10_957, 47_481)


@st.composite
def transactions(draw: st.DrawFn, time: st.SearchStrategy[int] = times) -> Transaction:
    if draw(st.integers(0, 4)) == 0:  # a salary credit: paydays, several on a day
        status, direction, category = "POSTED", "CREDIT", "SALARY"
    else:
        status = draw(st.sampled_from(sorted(TRANSACTION_STATUSES)))
        direction = draw(st.sampled_from(sorted(DIRECTIONS)))
        category = draw(st.sampled_from(sorted(CATEGORIES)))
    return Transaction(
        event_id=draw(st.text("abcd", min_size=1, max_size=5)), customer_id="C1",
        account_id="CA-1", occurred_at=draw(time), amount_minor=draw(amounts), currency="EUR",
        direction=direction, channel=draw(st.sampled_from(sorted(CHANNELS))),
        category=category, status=status,
        decline_reason=None if status == "POSTED" else draw(
            st.sampled_from([None, "INSUFFICIENT_FUNDS", "CARD_BLOCKED"])),
        balance_after_minor=draw(st.none() | signed))


@st.composite
def payments(draw: st.DrawFn, time: st.SearchStrategy[int] = times,
             accounts: Sequence[str] = tuple(ACCOUNTS)) -> Payment:
    account = draw(st.sampled_from(sorted(accounts)))
    kind = draw(st.sampled_from(sorted(PAYMENT_KINDS)))
    fields: dict[str, object] = {}
    if kind == "STATEMENT_ISSUED":
        balance = draw(signed)
        fields = {"statement_balance_minor": balance,
                  "minimum_due_minor": min(draw(amounts), balance) if balance > 0 else 0,
                  "credit_limit_minor": draw(st.none() | amounts), "due_date": draw(due_dates)}
    elif kind == "INSTALMENT_DUE":
        fields = {"amount_due_minor": draw(st.just(0) | amounts), "due_date": draw(due_dates)}
    elif kind in ("PAYMENT_RECEIVED", "PAYMENT_FAILED"):
        fields = {"amount_minor": draw(amounts)}
        if kind == "PAYMENT_FAILED":
            fields["failure_reason"] = "INSUFFICIENT_FUNDS"
    else:
        fields = {"days_past_due": draw(st.sampled_from([0, 30, 3650]) | st.integers(0, 3650))}
    return Payment(event_id=draw(st.text("abcd", min_size=1, max_size=5)), customer_id="C1",
                   account_id=account, occurred_at=draw(time), product=ACCOUNTS[account],
                   currency="EUR", kind=kind, **fields)  # type: ignore[arg-type]


@st.composite
def event_lists(draw: st.DrawFn, *, with_flags: bool = True) -> list[InputEvent]:
    """10 to 90 events (in any order, or sorted by time) over 6 days (every cap of the
    histories, duplicate ids), a month, a quarter or 8 months (too-late events, weeks behind
    the horizon, pruning), for 1 to 7 credit products (eviction)."""
    span = draw(st.sampled_from([6, 30, 90, 240]))
    time = st.builds(at, st.integers(0, span), st.integers(0, 23), st.sampled_from([0, 1, 30]))
    accounts = draw(st.lists(st.sampled_from(sorted(ACCOUNTS)), min_size=1, max_size=7,
                             unique=True))
    # mostly payments or mostly transactions, now and then customer flags
    kinds = [transactions(time)] * draw(st.integers(1, 4)) + [payments(time, accounts)] * draw(
        st.integers(1, 4))
    if with_flags:
        kinds.append(st.builds(CustomerFlags, event_id=st.text("ab", min_size=1, max_size=3),
                               customer_id=st.just("C1"), occurred_at=time))
    size = draw(st.integers(10, 90))
    events = draw(st.lists(st.sampled_from(kinds).flatmap(lambda kind: kind), min_size=size,
                           max_size=size))
    if draw(st.booleans()):  # in time order, as a live stream mostly is: few too-late events
        events.sort(key=lambda event: event.occurred_at)
    return events


def _with_redeliveries(events: list[InputEvent], data: st.DataObject) -> list[InputEvent]:
    if not events:
        return events
    again = data.draw(st.lists(st.sampled_from(events), max_size=20))
    out = list(events)
    for event in again:
        out.insert(data.draw(st.integers(0, len(out))), event)
    return out


# --- property tests ----------------------------------------------------------------------------
@SETTINGS
@given(events=event_sets, data=st.data())
def test_the_order_independence_properties_events_give_the_reference_bytes(
        events: list[InputEvent], data: st.DataObject) -> None:
    _replay(_with_redeliveries(list(data.draw(st.permutations(events))), data))


@SETTINGS
@given(events=event_lists(), data=st.data())
def test_any_events_give_the_reference_bytes(events: list[InputEvent],
                                             data: st.DataObject) -> None:
    # event ids from a small alphabet: repeats (duplicates, or the same id with other fields)
    # are frequent
    _replay(_with_redeliveries(events, data))


@SETTINGS
@given(events=event_lists(with_flags=False), cut=st.integers(0, 90))
def test_a_restored_state_continues_as_the_reference(events: list[InputEvent],
                                                     cut: int) -> None:
    state = CustomerState()
    for event in events[:cut]:
        apply_event(state, event)
    restored = CustomerState.from_bytes(state.to_bytes())
    _replay(events[cut:], restored)


@SETTINGS
@given(events=st.lists(
    st.one_of(transactions(st.builds(at, st.integers(0, 20))),
              payments(st.builds(at, st.integers(170, 190)))), min_size=1, max_size=60))
def test_sources_far_apart_give_the_reference_bytes(events: list[InputEvent]) -> None:
    # payments months after the transactions: each source within its own lateness bound,
    # the transactions' weeks behind the horizon (throw-away buckets, close balance, salaries)
    _replay(events)


# --- simulated customers -----------------------------------------------------------------------
def _simulated(customers: int, days: int, seed: int, **options: float) -> dict[str,
                                                                              list[InputEvent]]:
    config = SimulationConfig(customers=customers, days=days, seed=seed, **options)
    by_customer: dict[str, list[InputEvent]] = {}
    for record in BankSimulator(config).events():
        by_customer.setdefault(record["customer_id"], []).append(to_event(record))
    return by_customer


@pytest.mark.parametrize(("seed", "options"), [(3, {}), (11, {"stress_share": 1.0})])
def test_simulated_customers_give_the_reference_bytes(seed: int,
                                                      options: dict[str, float]) -> None:
    for events in _simulated(8, 200, seed, **options).values():
        _replay(events, check_every=3)


def test_simulated_customers_shuffled_and_re_delivered_give_the_reference_bytes() -> None:
    rng = random.Random(5)
    for events in _simulated(6, 150, 21).values():
        delivered = list(events)
        for _ in range(len(events) // 5):  # a re-delivery soon after, or much later
            delivered.insert(rng.randrange(len(delivered) + 1), rng.choice(events))
        # local disorder (consumer skew): shuffled within windows of 40 events
        for start in range(0, len(delivered), 40):
            window = delivered[start : start + 40]
            rng.shuffle(window)
            delivered[start : start + 40] = window
        _, _, outcomes = _replay(delivered, check_every=2)
        assert DUPLICATE in outcomes


# --- the caps, one by one ----------------------------------------------------------------------
def test_more_products_than_slots_evict_the_least_recently_active() -> None:
    events: list[InputEvent] = []
    # accounts whose keys sort in another order than their activity
    accounts = sorted((f"ACC-{i}" for i in range(8)), key=_account_key, reverse=True)
    for i, account in enumerate(accounts[:6]):
        events.append(pay(10 + i, "PAYMENT_RECEIVED", account=account, amount=1_000 + i))
    events.append(pay(3, "PAYMENT_RECEIVED", account=accounts[6], amount=5))  # older: dropped
    events.append(pay(11, "PAYMENT_FAILED", account=accounts[7], amount=5))  # counted, dropped
    events.append(pay(30, "DELINQUENCY_STATUS", account=accounts[0], dpd=12))  # back in
    events.append(pay(30, "STATEMENT_ISSUED", account=accounts[6], statement_balance=1,
                      minimum_due=1, due_day=40))
    state, records, _ = _replay(events)
    assert len(state.products) == MAX_PRODUCTS
    keys = records["products"][1]["key"][:MAX_PRODUCTS].tolist()
    assert keys == sorted(keys)


def test_long_product_histories_keep_the_newest_rows() -> None:
    rng = random.Random(7)
    # days past due over 21 periods of 30 days (more than DPD_MONTHS), in time order but for
    # neighbours swapped, several per period
    events: list[InputEvent] = [pay(day + rng.randrange(0, 25), "DELINQUENCY_STATUS",
                                    dpd=rng.randrange(0, 200))
                                for day in range(0, 630, 15)]
    for i in range(0, len(events) - 1, 2):
        events[i], events[i + 1] = events[i + 1], events[i]
    rows: list[InputEvent] = []
    for _ in range(20):
        day = rng.randrange(600, 630)  # same-minute rows: ties broken by the next fields
        rows += [statement(day, rng.choice([-5, 0, 5]), 0, rng.choice([631, 632]),
                           limit=rng.choice([None, 9])),
                 pay(day, "INSTALMENT_DUE", amount_due=rng.choice([0, 4, 9]),
                     due_day=rng.choice([633, 634])),
                 pay(day, "PAYMENT_RECEIVED", amount=rng.choice([1, 2, 3])),
                 pay(day, "PAYMENT_RECEIVED", amount=rng.choice([1, 2])),
                 pay(day, "DELINQUENCY_STATUS", dpd=rng.randrange(0, 200))]
    rng.shuffle(rows)
    state, _, outcomes = _replay([*events, *rows, pay(500, "PAYMENT_RECEIVED", amount=1)])
    product = state.products[_account_key("CC-1")]
    assert (len(product.statements), len(product.instalments), len(product.payments),
            len(product.dpd_monthly)) == (MAX_STATEMENTS, MAX_INSTALMENTS, MAX_PAYMENTS,
                                          DPD_MONTHS)
    assert outcomes[-1] == TOO_LATE


def test_a_new_product_as_old_as_the_stale_one_is_kept_by_the_larger_key() -> None:
    accounts = sorted((f"ACC-{i}" for i in range(6)), key=_account_key)
    keep = [pay(5, "PAYMENT_RECEIVED", account=a, amount=1) for a in accounts[1:4]]
    for stale, new in ((accounts[0], accounts[4]), (accounts[5], accounts[0])):
        # the stale product and the new one in the same minute: (minute, key) decides
        _replay([*keep, pay(3, "PAYMENT_RECEIVED", account=stale, amount=2),
                 pay(3, "INSTALMENT_DUE", account=new, amount_due=3, due_day=9)])


def test_close_balance_ties_go_to_the_lower_balance() -> None:
    # two balances at the same millisecond whose keys share their low 10 bits
    by_bits: dict[int, Transaction] = {}
    i = 0
    while True:
        event = tx(3, event_id=f"tie-{i}", balance=100 - i)
        other = by_bits.setdefault(event_key(event) & 1023, event)
        if other is not event:
            break
        i += 1
    for pair in ((other, event), (event, other)):
        state, _, _ = _replay([tx(2, balance=7), *pair, tx(1, balance=-9)])
        assert state.close_balance == min(e.balance_after_minor or 0 for e in pair)


def test_a_period_older_than_the_kept_ones_is_dropped_after_a_capped_watermark() -> None:
    # a state that applied days past due from the future (capped since): its 13 periods are
    # all newer than a real event's
    state = CustomerState()
    for month in range(DPD_MONTHS + 2):
        apply_event(state, pay(30 * month, "DELINQUENCY_STATUS", dpd=month))
    assert state.cap_watermarks(at(-60))
    _replay([pay(-70, "DELINQUENCY_STATUS", dpd=99), tx(-65, balance=1),
             pay(-59, "DELINQUENCY_STATUS", dpd=98)], state)


def test_more_ids_than_the_memory_holds_forget_the_oldest() -> None:
    events: list[InputEvent] = [tx(i % 30, event_id=f"T{i}") for i in range(MAX_DEDUP_IDS + 6)]
    events += [pay(i % 30, "PAYMENT_RECEIVED", amount=7, event_id=f"P{i}")
               for i in range(MAX_DEDUP_IDS + 6)]
    again = [events[0], events[-1], events[MAX_DEDUP_IDS + 5], events[MAX_DEDUP_IDS + 6]]
    _, records, outcomes = _replay(events + again)
    assert outcomes[-4:] == [APPLIED, DUPLICATE, DUPLICATE, APPLIED]
    assert records["n_ids"][1].tolist() == [MAX_DEDUP_IDS, MAX_DEDUP_IDS]


def test_more_salaries_than_kept_keep_the_newest_days() -> None:
    rng = random.Random(3)
    paydays = list(range(10, 30))
    rng.shuffle(paydays)
    events: list[InputEvent] = [salary(d, 100_000 + d) for d in paydays]
    events += [salary(paydays[-1], 7), salary(5, 9),  # older than the 8 kept: dropped
               salary(29, MAX_AMOUNT_MINOR), salary(29, MAX_AMOUNT_MINOR)]  # clamped
    state, _, outcomes = _replay(events)
    assert TOO_LATE not in outcomes
    assert [day - DAY0 for day, _ in state.salaries] == list(range(22, 30))
    assert state.salaries[-1] == [DAY0 + 29, INT32_MAX]


def test_weekly_counts_saturate() -> None:
    n = COUNT_MAX + 5
    events: list[InputEvent] = [
        tx(5, channel="DIRECT_DEBIT", status="DECLINED", decline_reason="INSUFFICIENT_FUNDS",
           hour=i % 24, event_id=f"D{i}") for i in range(n)]
    events += [pay(5, "PAYMENT_FAILED", amount=1, event_id=f"F{i}") for i in range(3)]
    _, records, _ = _replay(events, check_every=5_000)
    week = week_of_day(DAY0 + 5)
    counts = records["weeks"][1][week % HORIZON_WEEKS]["counts"]
    assert counts.tolist() == [COUNT_MAX, COUNT_MAX]


def test_sums_saturate_and_stored_amounts_clamp() -> None:
    big = MAX_AMOUNT_MINOR
    events: list[InputEvent] = []
    for category in sorted(CATEGORIES):
        for direction in sorted(DIRECTIONS):
            events += [tx(3, big, direction=direction, category=category, channel="ATM",
                          balance=balance) for balance in (-big, big, None)]
    events += [
        statement(3, -big, 0, 10, limit=big), statement(4, big, big, 10, limit=None),
        pay(5, "INSTALMENT_DUE", amount_due=big, due_day=12),
        pay(6, "PAYMENT_RECEIVED", amount=big), pay(7, "DELINQUENCY_STATUS", dpd=3650),
    ]
    state, _, _ = _replay(events)
    assert max(state.weeks.values(), key=lambda b: b[Col.DEBITS])[Col.DEBITS] == INT32_MAX


def test_events_behind_the_horizon_store_nothing_in_the_weeks() -> None:
    events: list[InputEvent] = [pay(120, "PAYMENT_RECEIVED", amount=5), tx(0, balance=-5),
                                salary(1, 1_000, balance=7), tx(100, balance=3),
                                tx(2, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS"),
                                pay(3, "PAYMENT_FAILED", amount=1)]
    state, records, _ = _replay(events)
    oldest = week_of_day(state.watermark // DAY_MS) - HORIZON_WEEKS + 1
    assert min(state.weeks) >= oldest
    assert state.salaries == [[DAY0 + 1, 1_000]]
    assert np.count_nonzero(records["weeks"][1]["week"]) == len(state.weeks)


def test_weeks_are_pruned_as_the_watermark_moves_on() -> None:
    events: list[InputEvent] = []
    for day in range(0, 400, 3):
        events.append(tx(day, 100 + day, balance=-day))
        events.append(tx(day - 80, 5, balance=1))  # 80 days behind: behind the horizon
        if day % 9 == 0:
            events.append(pay(day - 30, "PAYMENT_FAILED", amount=1))
            events.append(pay(day, "DELINQUENCY_STATUS", dpd=day % 90))  # > 13 periods
    events += [tx(10, 1), tx(200, 1), pay(5, "PAYMENT_RECEIVED", amount=1)]  # too late
    state, _, outcomes = _replay(events)
    assert outcomes.count(TOO_LATE) >= 3
    assert len(state.weeks) == HORIZON_WEEKS


def test_customer_flags_are_ignored() -> None:
    events: list[InputEvent] = [tx(1), flags(2), flags(300), tx(2)]
    _, _, outcomes = _replay(events)
    assert outcomes == [APPLIED, IGNORED, IGNORED, APPLIED]


def test_a_state_with_future_events_capped_continues_as_the_reference() -> None:
    state = CustomerState()
    for event in [tx(0, balance=1), salary(2), pay(90, "PAYMENT_RECEIVED", amount=3),
                  tx(95, balance=-4), statement(95, 10, 1, 99)]:
        apply_event(state, event)
    assert state.cap_watermarks(at(10))
    _replay([tx(11, balance=2), tx(40, balance=-1), pay(12, "INSTALMENT_DUE", amount_due=1,
                                                          due_day=20), tx(-30)], state)


# --- the encoding and the batch loop ------------------------------------------------------------
def test_encode_events_fills_the_rows_of_the_events_only() -> None:
    events: list[InputEvent] = [
        tx(1, 25, direction="CREDIT", channel="ATM", category="SAVINGS_TRANSFER",
           status="DECLINED", decline_reason="INSUFFICIENT_FUNDS", balance=-3),
        pay(2, "INSTALMENT_DUE", product="BNPL", account="B-1", amount_due=9, due_day=4),
        flags(3)]
    out = new_events(5)
    out[3:] = np.array([tuple(range(len(EVENT.names)))], dtype=EVENT)
    before = out[3:].copy()
    encode_events(events, out)
    assert (out[3:] == before).all()
    t, p, f = (out[i] for i in range(3))
    assert (t["source"], t["occurred_at"], t["key"]) == (0, at(1), event_key(events[0]))
    assert t["category"] == CATEGORY_CODES.index("SAVINGS_TRANSFER")
    assert (t["is_credit"], t["is_posted"], t["is_direct_debit"], t["is_atm_channel"],
            t["decline_is_nsf"], t["has_balance"], t["balance_after"], t["amount"]) == (
        1, 0, 0, 1, 1, 1, -3, 25)
    assert (p["source"], p["account_key"], p["product"], p["kind"], p["amount_due"],
            p["due_date"], p["amount"]) == (
        1, _account_key("B-1"), ProductState.PRODUCT_CODES.index("BNPL"),
        KIND_CODES.index("INSTALMENT_DUE"), 9, DAY0 + 4, 0)
    assert f["source"] == 2
    encode_events([], out)  # nothing to do


def test_apply_all_equals_apply_one_per_event() -> None:
    by_customer = _simulated(4, 60, 8)
    events = [e for customer in sorted(by_customer) for e in by_customer[customer]]
    rows = {customer: i for i, customer in enumerate(sorted(by_customer))}
    random.Random(2).shuffle(events)
    events += events[:30]
    encoded = new_events(len(events))
    encode_events(events, encoded)
    index = np.array([rows[e.customer_id] for e in events], dtype=np.int64)
    batch, single = empty_records(len(rows)), empty_records(len(rows))
    outcomes = np.full(len(events), -1, dtype=np.int8)
    apply_all(batch, index, encoded, 0, 50, outcomes)
    apply_all(batch, index, encoded, 50, len(events), outcomes)
    expected = [apply_one(single, int(index[j]), encoded, j) for j in range(len(events))]
    assert outcomes.tolist() == expected
    assert batch.tobytes() == single.tobytes()
    for customer, row in rows.items():  # and both equal the reference
        state = CustomerState()
        for event in events:
            if event.customer_id == customer:
                apply_event(state, event)
        assert record_bytes(batch, row) == state.to_bytes()
        assert record_to_state(batch, row) == state


def test_a_re_delivery_with_other_fields_is_a_duplicate() -> None:
    first = tx(1, 5)
    _, _, outcomes = _replay([first, dataclasses.replace(first, amount_minor=7)])
    assert outcomes == [APPLIED, DUPLICATE]

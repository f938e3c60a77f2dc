"""State -> feature vector, point in time (pure, no I/O).

``feature_vector(state, as_of_ms)`` looks only at buckets and histories at or before
``as_of_ms``'s day, so offline replay at a label's ``as_of`` and the stream scoring at the
customer's watermark run exactly this code. Every feature has a defined value for every state,
including an empty one (cold start): no NaN, no infinity.
"""

from __future__ import annotations

from itertools import pairwise
from statistics import median

from ._catalogue import FEATURE_NAMES
from ._state import BALANCE_NONE, DAY_MS, Col, CustomerState, ProductState

__all__ = ["COLD_START_DAYS", "SMOOTHING_MINOR", "feature_vector"]

SMOOTHING_MINOR = 10_000  # added to both sides of spend ratios: 100.00 in major units
COLD_START_DAYS = 60  # below this much history, ratios against the own baseline are neutral
SALARY_GRACE_DAYS = 3
DUE_SOON_DAYS = 3
_REVOLVING = frozenset({"CREDIT_CARD", "OVERDRAFT"})
_WIDTH = len(FEATURE_NAMES)


def _ratio(recent: float, prior_60: float, mature: bool) -> float:
    if not mature:
        return 1.0
    return (recent + SMOOTHING_MINOR) / (prior_60 / 2.0 + SMOOTHING_MINOR)


def _slope(points: list[tuple[int, int]]) -> float:
    n = len(points)
    if n < 3:
        return 0.0
    mean_x = sum(p[0] for p in points) / n
    mean_y = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mean_x) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mean_x) * (p[1] - mean_y) for p in points) / sxx


def _paid_between(product: ProductState, start_ms: int, end_ms: int) -> int:
    return sum(p[1] for p in product.payments if start_ms <= p[0] < end_ms)


def feature_vector(state: CustomerState, as_of_ms: int) -> list[float]:
    """The feature vector of ``state`` as of ``as_of_ms`` (epoch ms), in FEATURE_NAMES order."""
    as_day = as_of_ms // DAY_MS
    d30 = as_day - 29
    d90 = as_day - 89
    recent = [0] * Col.CLOSE_BALANCE  # sums over the last 30 days (additive columns)
    prior = [0] * Col.CLOSE_BALANCE  # sums over the 60 days before that
    last_90_failed = 0
    min_balance_30: int | None = None
    overdrawn_days = 0
    closes: list[tuple[int, int]] = []
    latest_close_day = -1
    latest_close = 0
    for day, bucket in state.days.items():
        if day > as_day or day < d90:
            continue
        last_90_failed += bucket[Col.FAILED_DD]
        close = bucket[Col.CLOSE_BALANCE]
        if close != BALANCE_NONE and day > latest_close_day:
            latest_close_day, latest_close = day, close
        if day >= d30:
            for col in range(Col.MIN_BALANCE):
                recent[col] += bucket[col]
            low = bucket[Col.MIN_BALANCE]
            if low != BALANCE_NONE:
                if min_balance_30 is None or low < min_balance_30:
                    min_balance_30 = low
                if low < 0:
                    overdrawn_days += 1
            if close != BALANCE_NONE:
                closes.append((day, close))
        else:
            for col in range(Col.MIN_BALANCE):
                prior[col] += bucket[col]

    history_days = 0.0
    if state.first_seen:
        history_days = min(365.0, max(0.0, (as_of_ms - state.first_seen) / DAY_MS))
    mature = history_days >= COLD_START_DAYS

    # salary cadence and delay
    salary_days = [s[0] for s in state.salaries if s[0] <= as_day]
    income_30 = recent[Col.INCOME]
    income_60 = income_30 + sum(
        b[Col.INCOME] for d, b in state.days.items() if as_day - 59 <= d < d30
    )
    days_since_salary = (float(as_day - salary_days[-1]) if salary_days
                         else min(history_days, 90.0))
    gaps = [b - a for a, b in pairwise(salary_days)]
    cadence = float(median(gaps)) if gaps else 30.0
    delay = max(0.0, days_since_salary - cadence) if len(salary_days) >= 2 else 0.0
    missed = 1.0 if len(salary_days) >= 2 and delay > SALARY_GRACE_DAYS else 0.0

    # spending mix
    debits_30 = recent[Col.DEBITS]
    ess_30, disc_30 = recent[Col.ESSENTIAL], recent[Col.DISCRETIONARY]
    ess_p, disc_p = prior[Col.ESSENTIAL], prior[Col.DISCRETIONARY]
    if mature and ess_30 + disc_30 > 0 and ess_p + disc_p > 0:
        essential_shift = ess_30 / (ess_30 + disc_30) - ess_p / (ess_p + disc_p)
    else:
        essential_shift = 0.0
    lending_30 = recent[Col.LENDING_APP_OUT] + recent[Col.LENDING_APP_IN]
    lending_p = prior[Col.LENDING_APP_OUT] + prior[Col.LENDING_APP_IN]
    gambling_share = recent[Col.GAMBLING] / debits_30 if debits_30 > 0 else 0.0
    net_flow = (recent[Col.CREDITS] - debits_30) / max(debits_30, SMOOTHING_MINOR)

    # credit products
    total_balance = total_limit = 0
    utilisation_trend = 0.0
    min_only_streak = 0
    pay_ratio = 1.0
    latest_due_day = -1
    late_6m = 0
    dpd_current = 0
    dpd_max_6m = 0
    in_arrears = 0
    due_soon = 0.0
    period_now = as_of_ms // (30 * DAY_MS)
    spendable = max(latest_close, 0)
    for product in state.products.values():
        statements = [s for s in product.statements if s[0] <= as_of_ms]
        if product.product in _REVOLVING and statements and statements[-1][4] > 0:
            last = statements[-1]
            total_balance += last[1]
            total_limit += last[4]
            utils = [s[1] / s[4] for s in statements[-3:] if s[4] > 0]
            if len(utils) >= 2:
                utilisation_trend = max(utilisation_trend, utils[-1] - utils[0])
        # due items: (issued_ms, amount due, due day)
        due_items = [(s[0], s[2], s[3]) for s in statements]
        due_items += [(i[0], i[1], i[2]) for i in product.instalments if i[0] <= as_of_ms]
        due_items.sort()
        for issued, due, due_day in due_items:
            paid = _paid_between(product, issued, min((due_day + 1) * DAY_MS, as_of_ms + 1))
            if due_day < as_day:
                if as_day - 180 < due_day and paid < due:
                    late_6m += 1
                ratio = min(2.0, paid / due) if due > 0 else 1.0
                if due_day > latest_due_day:
                    latest_due_day = due_day
                    pay_ratio = ratio
                elif due_day == latest_due_day:  # the lowest of that day: order-independent
                    pay_ratio = min(pay_ratio, ratio)
            elif due_day - as_day <= DUE_SOON_DAYS and due - paid > spendable:
                due_soon = 1.0
        streak = 0
        for index in range(len(statements) - 1, -1, -1):
            issued, balance, minimum, due_day, _ = statements[index]
            if due_day >= as_day:
                continue  # not yet due: says nothing about payment behaviour
            cycle_end = statements[index + 1][0] if index + 1 < len(statements) else as_of_ms + 1
            paid = _paid_between(product, issued, cycle_end)
            if minimum > 0 and balance > 1.5 * minimum and minimum <= paid <= 1.1 * minimum:
                streak += 1
            else:
                break
        min_only_streak = max(min_only_streak, streak)
        if product.dpd_latest[0] and product.dpd_latest[0] <= as_of_ms:
            dpd = product.dpd_latest[2]
            dpd_current = max(dpd_current, dpd)
            if dpd > 0:
                in_arrears += 1
        for period, dpd in product.dpd_monthly.items():
            if period_now - 6 < period <= period_now:
                dpd_max_6m = max(dpd_max_6m, dpd)

    vector = [
        history_days,
        float(income_30),
        float(income_60),
        _ratio(income_30, prior[Col.INCOME], mature),
        days_since_salary,
        cadence,
        delay,
        missed,
        float(latest_close),
        float(min_balance_30 if min_balance_30 is not None else latest_close),
        _slope(sorted(closes)),  # sorted: float sums must not depend on arrival order
        float(overdrawn_days),
        float(recent[Col.FAILED_DD]),
        float(last_90_failed),
        float(recent[Col.NSF_DECLINES]),
        _ratio(recent[Col.ATM_CASH], prior[Col.ATM_CASH], mature),
        _ratio(lending_30, lending_p, mature),
        float(recent[Col.LENDING_APP_IN]),
        _ratio(recent[Col.BNPL], prior[Col.BNPL], mature),
        gambling_share,
        _ratio(recent[Col.GAMBLING], prior[Col.GAMBLING], mature),
        essential_shift,
        _ratio(disc_30, disc_p, mature),
        net_flow,
        total_balance / total_limit if total_limit > 0 else 0.0,
        utilisation_trend,
        float(min_only_streak),
        pay_ratio,
        float(late_6m),
        float(dpd_current),
        float(max(dpd_max_6m, dpd_current)),
        float(in_arrears),
        due_soon,
        float(len(state.products)),
    ]
    assert len(vector) == _WIDTH
    return vector

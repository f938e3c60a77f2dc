"""State -> feature vector, point in time (pure, no I/O).

``feature_vector(state, as_of_ms)`` looks only at buckets and histories at or before
``as_of_ms``, so offline replay at a label's ``as_of`` and the stream scoring at the customer's
watermark run exactly this code. Every feature has a defined value for every state, including
an empty one (cold start): no NaN, no infinity.

Windows are weeks counted back from the as-of week (see the catalogue): ``recent`` is the
as-of week and the 4 before, ``prior`` the 8 weeks before those. Ratios against the customer's
own baseline compare the recent sum with the prior sum scaled to the days the recent window
actually covers (29 to 35), so they do not swing with the weekday.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from statistics import median

from ._catalogue import FEATURE_NAMES
from ._state import (
    BALANCE_NONE,
    DAY_MS,
    MINUTE_MS,
    Col,
    CustomerState,
    ProductState,
    week_of_day,
)

__all__ = ["COLD_START_DAYS", "DUE_SOON_DAYS", "SALARY_GRACE_DAYS", "SMOOTHING_MINOR",
           "feature_vector"]

SMOOTHING_MINOR = 10_000  # added to both sides of spend ratios: 100.00 in major units
COLD_START_DAYS = 60  # below this much history, ratios against the own baseline are neutral
SALARY_GRACE_DAYS = 3
DUE_SOON_DAYS = 3
RECENT_WEEKS = 5  # the as-of week and the 4 before
PRIOR_WEEKS = 8
HORIZON = RECENT_WEEKS + PRIOR_WEEKS
_MINUTES_PER_DAY = DAY_MS // MINUTE_MS
_REVOLVING = frozenset({"CREDIT_CARD", "OVERDRAFT"})
_WIDTH = len(FEATURE_NAMES)
_SUMS = range(Col.MIN_BALANCE)


def _slope(points: Sequence[tuple[int, float]]) -> float:
    n = len(points)
    if n < 3:
        return 0.0
    points = sorted(points)  # a fixed summation order: the same value whatever the arrival
    mean_x = sum(p[0] for p in points) / n
    mean_y = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mean_x) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mean_x) * (p[1] - mean_y) for p in points) / sxx


def _smoothed(recent: float, before: float) -> float:
    return (recent + SMOOTHING_MINOR) / (before + SMOOTHING_MINOR)


def _allocated(product: ProductState, items: list[tuple[int, int, int]],
               as_min: int) -> list[int]:
    """What each due item ``(issued, due, due day)`` has received of the product's payments
    up to ``as_min``, allocating each payment to the items issued before it, oldest due date
    first (as a lender applies a payment to the oldest arrears). A payment is never counted
    twice; an excess over what is due then is not carried to later items (a card paid in
    full pays more than its minimum)."""
    order = sorted(range(len(items)), key=lambda i: (items[i][2], items[i][0], i))
    left = [items[i][1] for i in range(len(items))]
    received = [0] * len(items)
    for paid_min, amount in sorted(p for p in product.payments if p[0] <= as_min):
        unspent = amount
        for i in order:
            if unspent <= 0:
                break
            if items[i][0] <= paid_min and left[i] > 0:
                share = min(left[i], unspent)
                left[i] -= share
                received[i] += share
                unspent -= share
    return received


def _paid_between(product: ProductState, start_min: int, end_min: int) -> int:
    return sum(p[1] for p in product.payments if start_min <= p[0] < end_min)


def feature_vector(state: CustomerState, as_of_ms: int) -> list[float]:
    """The feature vector of ``state`` as of ``as_of_ms`` (epoch ms), in FEATURE_NAMES order."""
    as_day = as_of_ms // DAY_MS
    as_week = week_of_day(as_day)
    as_min = as_of_ms // MINUTE_MS
    recent_days = 7 * (RECENT_WEEKS - 1) + (as_day + 3) % 7 + 1  # 29..35
    recent = [0] * Col.MIN_BALANCE
    prior = [0] * Col.MIN_BALANCE
    income_60 = 0
    failed_90 = 0
    min_balance_30: int | None = None
    overdrawn_days = 0
    lows: list[tuple[int, int]] = []
    for week, bucket in state.weeks.items():
        age = as_week - week
        if age < 0 or age >= HORIZON:
            continue
        failed_90 += bucket[Col.FAILED_DD]
        low = bucket[Col.MIN_BALANCE]
        if low != BALANCE_NONE:
            lows.append((week, low))
        if age <= 8:
            income_60 += bucket[Col.INCOME]
        if age < RECENT_WEEKS:
            for col in _SUMS:
                recent[col] += bucket[col]
            if low != BALANCE_NONE and (min_balance_30 is None or low < min_balance_30):
                min_balance_30 = low
            overdrawn_days += bucket[Col.OVERDRAWN_DAYS].bit_count()
        else:
            for col in _SUMS:
                prior[col] += bucket[col]

    history_days = 0.0
    if state.first_seen:
        history_days = min(365.0, max(0.0, (as_of_ms - state.first_seen) / DAY_MS))
    mature = history_days >= COLD_START_DAYS
    scale = recent_days / (7.0 * PRIOR_WEEKS)

    def ratio(recent_sum: float, prior_sum: float) -> float:
        if not mature:
            return 1.0
        return (recent_sum + SMOOTHING_MINOR) / (prior_sum * scale + SMOOTHING_MINOR)

    # salary cadence and delay
    salary_days = [s[0] for s in state.salaries if s[0] <= as_day]
    income_30 = recent[Col.INCOME]
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
    close = state.close_balance if 0 <= state.close_key // 1024 <= as_of_ms else 0

    # income smaller than usual: the last salary against the median of the ones before
    salary_amounts = [s[1] for s in state.salaries if s[0] <= as_day]
    last_salary_ratio = 1.0
    if len(salary_amounts) >= 3:
        usual = float(median(salary_amounts[:-1]))
        if usual > 0:
            last_salary_ratio = min(3.0, salary_amounts[-1] / usual)

    # buffer: how long the balance lasts at the recent net outflow
    spendable = max(close, 0)
    net_out = debits_30 - recent[Col.CREDITS]
    runway = 90.0 if net_out <= 0 else min(90.0, spendable / (net_out / recent_days))

    # credit products
    total_balance = total_limit = 0
    utilisation_trend = 0.0
    utilisation_slope = 0.0
    limit_change = 0.0
    balance_growth = 1.0
    paid_share = 1.0
    paid_share_6s = 1.0
    payment_trend = 1.0
    min_only_streak = 0
    latest_due_day = -1
    latest_due_ratios: list[float] = []
    late_6m = 0
    late_received_6m = 0
    dpd_current = 0
    in_arrears = 0
    past_due_amount = 0
    due_soon = 0.0
    due_next_14 = 0
    new_credit = 0
    period_now = as_of_ms // (30 * DAY_MS)
    arrears_periods_6: set[int] = set()
    arrears_periods_12: set[int] = set()
    dpd_max_6m = 0
    dpd_max_12m = 0
    first_seen_min = state.first_seen // MINUTE_MS
    for product in state.products.values():
        statements = [s for s in product.statements if s[0] <= as_min]
        if (product.first_seen_min and product.first_seen_min <= as_min
                and as_min - product.first_seen_min <= 90 * _MINUTES_PER_DAY
                and product.first_seen_min - first_seen_min >= 30 * _MINUTES_PER_DAY):
            new_credit += 1
        if product.product in _REVOLVING and statements and statements[-1][4] > 0:
            last = statements[-1]
            total_balance += max(last[1], 0)
            total_limit += last[4]
            limited = [s for s in statements if s[4] > 0]
            utils = [max(s[1], 0) / s[4] for s in limited]
            if len(utils) >= 2:
                trend = utils[-1] - utils[-3:][0]
                utilisation_trend = max(utilisation_trend, trend)
                limit_change = min(limit_change, limited[-1][4] / limited[0][4] - 1.0)
            utilisation_slope = max(utilisation_slope, _slope(list(enumerate(utils))))
        if len(statements) >= 2:
            before = [max(s[1], 0) for s in statements[:-1]]
            balance_growth = max(balance_growth,
                                 _smoothed(max(statements[-1][1], 0), sum(before) / len(before)))
        # due items: (issued minute, amount due, due day)
        due_items = [(s[0], s[2], s[3]) for s in statements]
        due_items += [(i[0], i[1], i[2]) for i in product.instalments if i[0] <= as_min]
        status_min = product.dpd_latest[0] if product.dpd_latest[0] <= as_min else 0
        received = _allocated(product, due_items, as_min) if due_items else []
        for (issued, due, due_day), paid_now in zip(due_items, received, strict=True):
            end = min((due_day + 1) * _MINUTES_PER_DAY, as_min + 1)
            paid = _paid_between(product, issued, end)
            if due_day < as_day:
                if as_day - 180 < due_day and paid < due:
                    late_6m += 1
                    if paid_now >= due:
                        late_received_6m += 1
                # still unpaid, and no arrears run has reported since it fell due
                if paid_now < due and status_min < (due_day + 1) * _MINUTES_PER_DAY:
                    past_due_amount += due - paid_now
                item_ratio = min(2.0, paid / due) if due > 0 else 1.0
                if due_day > latest_due_day:
                    latest_due_day, latest_due_ratios = due_day, [item_ratio]
                elif due_day == latest_due_day:
                    latest_due_ratios.append(item_ratio)
            else:
                outstanding = due - paid
                if due_day - as_day <= 14 and outstanding > 0:
                    due_next_14 += outstanding
                if due_day - as_day <= DUE_SOON_DAYS and outstanding > spendable:
                    due_soon = 1.0
        streak = 0
        shares: list[float] = []
        for index in range(len(statements) - 1, -1, -1):
            issued, balance, minimum, due_day, _ = statements[index]
            if due_day >= as_day:
                continue  # not yet due: says nothing about payment behaviour
            cycle_end = statements[index + 1][0] if index + 1 < len(statements) else as_min + 1
            paid = _paid_between(product, issued, cycle_end)
            shares.append(min(1.0, paid / balance) if balance > 0 else 1.0)
            if streak == len(shares) - 1 and (minimum > 0 and balance > 1.5 * minimum
                                               and minimum <= paid <= 1.1 * minimum):
                streak += 1
        min_only_streak = max(min_only_streak, streak)
        if shares:
            paid_share = min(paid_share, shares[0])
            paid_share_6s = min(paid_share_6s, sum(shares) / len(shares))
        amounts = [p[1] for p in product.payments if p[0] <= as_min]
        if len(amounts) >= 4:
            recent_paid = amounts[-2:]
            earlier = amounts[-6:-2]
            payment_trend = min(payment_trend, _smoothed(sum(recent_paid) / 2,
                                                         sum(earlier) / len(earlier)))
        if product.dpd_latest[0] and product.dpd_latest[0] <= as_min:
            dpd = product.dpd_latest[2]
            dpd_current = max(dpd_current, dpd)
            if dpd > 0:
                in_arrears += 1
        for period, dpd in product.dpd_monthly.items():
            if period_now - 12 < period <= period_now:
                dpd_max_12m = max(dpd_max_12m, dpd)
                if dpd > 0:
                    arrears_periods_12.add(period)
                if period_now - 6 < period:
                    dpd_max_6m = max(dpd_max_6m, dpd)
                    if dpd > 0:
                        arrears_periods_6.add(period)
    # the weakest of the items that fell due last (1.0 when nothing has fallen due)
    pay_ratio = min(latest_due_ratios) if latest_due_ratios else 1.0
    due_cover = 10.0 if due_next_14 <= 0 else min(10.0, spendable / due_next_14)

    vector = [
        history_days,
        float(income_30),
        float(income_60),
        ratio(income_30, prior[Col.INCOME]),
        last_salary_ratio,
        days_since_salary,
        cadence,
        delay,
        missed,
        float(close),
        float(min_balance_30 if min_balance_30 is not None else close),
        _slope(lows),
        float(overdrawn_days),
        runway,
        due_cover,
        float(recent[Col.SAVINGS_IN]),
        float(recent[Col.FAILED_DD]),
        float(failed_90),
        float(recent[Col.NSF_DECLINES]),
        ratio(recent[Col.ATM_CASH], prior[Col.ATM_CASH]),
        ratio(lending_30, lending_p),
        float(recent[Col.LENDING_APP_IN]),
        ratio(recent[Col.BNPL], prior[Col.BNPL]),
        gambling_share,
        ratio(recent[Col.GAMBLING], prior[Col.GAMBLING]),
        essential_shift,
        ratio(disc_30, disc_p),
        net_flow,
        float(len(state.products)),
        float(new_credit),
        float(total_limit),
        limit_change,
        total_balance / total_limit if total_limit > 0 else 0.0,
        utilisation_trend,
        utilisation_slope,
        balance_growth,
        paid_share,
        paid_share_6s,
        payment_trend,
        float(min_only_streak),
        pay_ratio,
        due_soon,
        float(late_6m),
        float(late_received_6m),
        float(len(arrears_periods_6)),
        float(len(arrears_periods_12)),
        float(max(dpd_max_6m, dpd_current)),
        float(max(dpd_max_12m, dpd_current)),
        float(dpd_current),
        float(in_arrears),
        float(past_due_amount),
    ]
    assert len(vector) == _WIDTH
    return vector

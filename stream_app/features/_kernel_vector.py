"""Feature vector and next absence deadline from the fixed layout, compiled with numba (pure).

``features_into`` / ``features_batch`` compute exactly ``_vector.feature_vector`` and
``next_deadline_of`` exactly ``_deadlines.next_deadline`` from the records of ``_layout``
(``STATE``), without building the reference objects: the same float64 results bit for bit,
because every float is produced by the same operations in the same order as the reference:

* Python ``int / int`` is the correctly rounded quotient; here both int64 operands are converted
  to float64 and divided, which is the same value while they are below 2**53 in magnitude
  (amounts are int32, sums of at most a few dozen of them; times are epoch ms);
* ``sum()`` of floats (Python 3.11: plain left-to-right addition from the int 0) is a
  left-to-right loop from 0.0 over the points in the reference's order (``_slope`` sorts its
  points: here the weeks are visited oldest first and the statements in order);
* ``x ** 2`` on a Python float calls the C library's ``pow(x, 2.0)``, which is *not* always
  ``x * x`` (glibc's pow is within 0.52 ulp, not correctly rounded): ``_libm_pow`` calls that
  same ``pow`` (declared ``nobuiltin`` so that LLVM does not fold it into a multiplication);
* Python compares ints with floats exactly; int64 -> float64 is exact below 2**53, so
  ``balance > 1.5 * minimum`` compares the same here;
* ``max`` / ``min`` / counts / int sums over products do not depend on the order of the
  products (the record keeps them by key, the reference in arrival order), and the sets of
  30-day periods in arrears become a bit mask over the 12 periods of the window.

Valid for ``|as_of_ms| < 2**53`` (any epoch-ms time of the next 285,000 years).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]  # nor does llvmlite
from numba import types
from numba.extending import intrinsic

from ._catalogue import FEATURE_NAMES
from ._deadlines import Deadline
from ._layout import COUNT_ORDER, SUM_ORDER
from ._numba_cache import configure as _configure_numba_cache
from ._state import BALANCE_NONE, DAY_MS, HORIZON_WEEKS, MINUTE_MS, Col, ProductState
from ._vector import (
    COLD_START_DAYS,
    DUE_SOON_DAYS,
    HORIZON,
    PRIOR_WEEKS,
    RECENT_WEEKS,
    SALARY_GRACE_DAYS,
    SMOOTHING_MINOR,
)

_configure_numba_cache()  # before the kernels below: a cache keyed by the package's sources

__all__ = ["DUE_SOON", "NO_DEADLINE", "SALARY_MISSED", "WIDTH", "features_batch",
           "features_into", "next_deadline_of", "next_deadline_record"]

# kind codes of next_deadline_of: ordered as the reference's kind strings, so that the min
# over (time, kind) breaks ties as the reference's min over (time, kind string) does
DUE_SOON = 0  # Deadline.DUE_SOON, "due-soon"
SALARY_MISSED = 1  # Deadline.SALARY, "salary-missed"
NO_DEADLINE = (-1, -1)
_KINDS = (Deadline.DUE_SOON, Deadline.SALARY)
assert sorted(_KINDS) == list(_KINDS)

WIDTH = len(FEATURE_NAMES)
assert WIDTH == 51
assert HORIZON == HORIZON_WEEKS

_MINUTES_PER_DAY = DAY_MS // MINUTE_MS
_PERIOD_MS = 30 * DAY_MS
_CARD = ProductState.PRODUCT_CODES.index("CREDIT_CARD")
_OVERDRAFT = ProductState.PRODUCT_CODES.index("OVERDRAFT")
# positions in a week's ``sums`` / ``counts``
_INCOME = SUM_ORDER.index(Col.INCOME)
_ESSENTIAL = SUM_ORDER.index(Col.ESSENTIAL)
_DISCRETIONARY = SUM_ORDER.index(Col.DISCRETIONARY)
_ATM_CASH = SUM_ORDER.index(Col.ATM_CASH)
_LENDING_OUT = SUM_ORDER.index(Col.LENDING_APP_OUT)
_LENDING_IN = SUM_ORDER.index(Col.LENDING_APP_IN)
_BNPL = SUM_ORDER.index(Col.BNPL)
_GAMBLING = SUM_ORDER.index(Col.GAMBLING)
_DEBITS = SUM_ORDER.index(Col.DEBITS)
_CREDITS = SUM_ORDER.index(Col.CREDITS)
_SAVINGS_IN = SUM_ORDER.index(Col.SAVINGS_IN)
_FAILED_DD = COUNT_ORDER.index(Col.FAILED_DD)
_NSF = COUNT_ORDER.index(Col.NSF_DECLINES)
_N_SUMS = len(SUM_ORDER)
_N_COUNTS = len(COUNT_ORDER)

# int64 scratch of one vector: offsets of its parts (sizes: the layout's caps)
_S_RECENT = 0  # recent sums, then recent counts
_S_PRIOR = _S_RECENT + _N_SUMS + _N_COUNTS  # prior sums
_S_MEDIAN = _S_PRIOR + _N_SUMS  # values to take the median of (at most MAX_SALARIES)
_S_STATEMENTS = _S_MEDIAN + 8  # indices of the statements issued by the as-of time
_S_PAYMENTS = _S_STATEMENTS + 8  # indices of the payments made by then, sorted
_S_ISSUED = _S_PAYMENTS + 16  # due items: issued minute, amount due, due day, ...
_S_DUE = _S_ISSUED + 16
_S_DUE_DAY = _S_DUE + 16
_S_ORDER = _S_DUE_DAY + 16  # ... the allocation order, what is left, what was received
_S_LEFT = _S_ORDER + 16
_S_RECEIVED = _S_LEFT + 16
SCRATCH = _S_RECEIVED + 16

if TYPE_CHECKING:
    def _i64(value: Any) -> int:
        """A Python int to the type checker."""
else:
    _i64 = np.int64  # in the kernels: widen the layout's narrow (and unsigned) fields first


@intrinsic
def _libm_pow(typingctx: Any, x: Any, y: Any) -> Any:
    """The C library's ``pow(x, y)``, as CPython's float ``**`` calls it; ``nobuiltin`` keeps
    LLVM from replacing ``pow(x, 2.0)`` with ``x * x`` (which rounds differently)."""
    sig = types.float64(types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        module = builder.module
        fn = module.globals.get("pow")
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(ir.DoubleType(),
                                                     [ir.DoubleType(), ir.DoubleType()]),
                             name="pow")
            fn.attributes.add("nobuiltin")
        return builder.call(fn, args)

    return sig, codegen


@numba.njit(cache=True)
def _py_square(x: float) -> float:
    """CPython's ``x ** 2`` for a float ``x`` (float_pow: pow of the magnitude; 0 -> 0.0)."""
    if x == 0.0:
        return 0.0
    return _libm_pow(abs(x), 2.0)  # type: ignore[call-arg]  # numba's stub counts typingctx


@numba.njit(cache=True)
def _median(work: np.ndarray, start: int, n: int) -> float:
    """``float(statistics.median(work[start:start + n]))`` of ints (n >= 1); sorts them."""
    for i in range(start + 1, start + n):
        value = work[i]
        j = i - 1
        while j >= start and work[j] > value:
            work[j + 1] = work[j]
            j -= 1
        work[j + 1] = value
    mid = start + n // 2
    if n % 2 == 1:
        return float(work[mid])
    return float((work[mid - 1] + work[mid]) / 2)  # int64 / int: the float quotient


@numba.njit(cache=True)
def _paid_between(product: Any, start_min: int, end_min: int) -> int:
    total = 0
    for k in range(product.n_payments):
        paid_min = _i64(product.payments[k, 0])
        if start_min <= paid_min < end_min:
            total += _i64(product.payments[k, 1])
    return total


@numba.njit(cache=True)
def _popcount(mask: int) -> int:
    count = 0
    while mask:
        count += mask & 1
        mask >>= 1
    return count


@numba.njit(cache=True)
def _vector_row(  # noqa: PLR0912, PLR0915, PLR0917  # a straight copy of feature_vector
        states: np.ndarray, index: int, as_of_ms: int, out: np.ndarray, row: int,
        work: np.ndarray) -> None:
    rec = states[index]
    as_of_ms = _i64(as_of_ms)
    as_day = as_of_ms // DAY_MS
    as_week = (as_day + 3) // 7
    as_min = as_of_ms // MINUTE_MS
    recent_days = 7 * (RECENT_WEEKS - 1) + (as_day + 3) % 7 + 1  # 29..35
    for k in range(_S_MEDIAN):
        work[k] = 0
    income_60 = _i64(0)
    failed_90 = _i64(0)
    have_min_30 = False
    min_balance_30 = _i64(0)
    overdrawn_days = _i64(0)
    # the weeks of the window, oldest first (the order _slope sorts its points in)
    n_lows = 0
    sum_weeks = _i64(0)
    sum_lows = _i64(0)
    for age in range(HORIZON - 1, -1, -1):
        week = as_week - age
        slot = rec.weeks[week % HORIZON_WEEKS]
        if _i64(slot.week) != week or week == 0:
            continue
        failed_90 += _i64(slot.counts[_FAILED_DD])
        low = _i64(slot.min_balance)
        if low != BALANCE_NONE:
            n_lows += 1
            sum_weeks += week
            sum_lows += low
        if age <= 8:
            income_60 += _i64(slot.sums[_INCOME])
        if age < RECENT_WEEKS:
            for c in range(_N_SUMS):
                work[_S_RECENT + c] += _i64(slot.sums[c])
            for c in range(_N_COUNTS):
                work[_S_RECENT + _N_SUMS + c] += _i64(slot.counts[c])
            if low != BALANCE_NONE and (not have_min_30 or low < min_balance_30):
                have_min_30 = True
                min_balance_30 = low
            overdrawn_days += _popcount(_i64(slot.overdrawn))
        else:
            for c in range(_N_SUMS):
                work[_S_PRIOR + c] += _i64(slot.sums[c])
    balance_slope = 0.0
    if n_lows >= 3:
        mean_x = sum_weeks / n_lows
        mean_y = sum_lows / n_lows
        sxx = 0.0
        for age in range(HORIZON - 1, -1, -1):
            week = as_week - age
            slot = rec.weeks[week % HORIZON_WEEKS]
            if _i64(slot.week) == week and week != 0 and slot.min_balance != BALANCE_NONE:
                sxx += _py_square(week - mean_x)
        if sxx != 0:
            sxy = 0.0
            for age in range(HORIZON - 1, -1, -1):
                week = as_week - age
                slot = rec.weeks[week % HORIZON_WEEKS]
                if (_i64(slot.week) == week and week != 0
                        and slot.min_balance != BALANCE_NONE):
                    sxy += (week - mean_x) * (_i64(slot.min_balance) - mean_y)
            balance_slope = sxy / sxx

    first_seen = _i64(rec.first_seen)
    history_days = 0.0
    if first_seen != 0:
        days = (as_of_ms - first_seen) / DAY_MS
        days = days if days > 0.0 else 0.0
        history_days = days if days < 365.0 else 365.0
    mature = history_days >= COLD_START_DAYS
    scale = recent_days / (7.0 * PRIOR_WEEKS)

    # salary cadence and delay
    n_salaries = 0
    last_salary_day = _i64(0)
    for k in range(rec.n_salaries):
        day = _i64(rec.salary_days[k])
        if day <= as_day:
            if n_salaries >= 1:
                work[_S_MEDIAN + n_salaries - 1] = day - last_salary_day
            last_salary_day = day
            n_salaries += 1
    income_30 = work[_S_RECENT + _INCOME]
    if n_salaries:
        days_since_salary = float(as_day - last_salary_day)
    else:
        days_since_salary = history_days if history_days < 90.0 else 90.0
    cadence = _median(work, _S_MEDIAN, n_salaries - 1) if n_salaries >= 2 else 30.0
    delay = 0.0
    if n_salaries >= 2:
        late = days_since_salary - cadence
        delay = late if late > 0.0 else 0.0
    missed = 1.0 if n_salaries >= 2 and delay > SALARY_GRACE_DAYS else 0.0

    # spending mix
    debits_30 = work[_S_RECENT + _DEBITS]
    credits_30 = work[_S_RECENT + _CREDITS]
    ess_30 = work[_S_RECENT + _ESSENTIAL]
    disc_30 = work[_S_RECENT + _DISCRETIONARY]
    ess_p = work[_S_PRIOR + _ESSENTIAL]
    disc_p = work[_S_PRIOR + _DISCRETIONARY]
    if mature and ess_30 + disc_30 > 0 and ess_p + disc_p > 0:
        essential_shift = ess_30 / (ess_30 + disc_30) - ess_p / (ess_p + disc_p)
    else:
        essential_shift = 0.0
    lending_30 = work[_S_RECENT + _LENDING_OUT] + work[_S_RECENT + _LENDING_IN]
    lending_p = work[_S_PRIOR + _LENDING_OUT] + work[_S_PRIOR + _LENDING_IN]
    gambling_share = work[_S_RECENT + _GAMBLING] / debits_30 if debits_30 > 0 else 0.0
    net_flow = (credits_30 - debits_30) / (debits_30 if debits_30 > SMOOTHING_MINOR
                                           else SMOOTHING_MINOR)
    close_at = _i64(rec.close_key) // 1024
    close = _i64(rec.close_balance) if 0 <= close_at <= as_of_ms else _i64(0)

    # income smaller than usual: the last salary against the median of the ones before
    last_salary_ratio = 1.0
    if n_salaries >= 3:
        m = 0
        last_amount = _i64(0)
        for k in range(rec.n_salaries):
            if _i64(rec.salary_days[k]) <= as_day:
                if m >= 1:
                    work[_S_MEDIAN + m - 1] = last_amount
                last_amount = _i64(rec.salary_amounts[k])
                m += 1
        usual = _median(work, _S_MEDIAN, m - 1)
        if usual > 0:
            ratio_ = last_amount / usual
            last_salary_ratio = ratio_ if ratio_ < 3.0 else 3.0

    # buffer: how long the balance lasts at the recent net outflow
    spendable = close if close > 0 else _i64(0)
    net_out = debits_30 - credits_30
    if net_out <= 0:
        runway = 90.0
    else:
        lasts = spendable / (net_out / recent_days)
        runway = lasts if lasts < 90.0 else 90.0

    # credit products
    total_balance = _i64(0)
    total_limit = _i64(0)
    utilisation_trend = 0.0
    utilisation_slope = 0.0
    limit_change = 0.0
    balance_growth = 1.0
    paid_share = 1.0
    paid_share_6s = 1.0
    payment_trend = 1.0
    min_only_streak = _i64(0)
    latest_due_day = _i64(-1)
    have_latest = False
    pay_ratio = 1.0
    late_6m = _i64(0)
    late_received_6m = _i64(0)
    dpd_current = _i64(0)
    in_arrears = _i64(0)
    past_due_amount = _i64(0)
    due_soon = 0.0
    due_next_14 = _i64(0)
    new_credit = _i64(0)
    period_now = as_of_ms // _PERIOD_MS
    arrears_mask = _i64(0)  # bit k: period period_now - k had arrears (k < 12)
    dpd_max_6m = _i64(0)
    dpd_max_12m = _i64(0)
    first_seen_min = first_seen // MINUTE_MS
    n_products = _i64(rec.n_products)
    for p in range(n_products):
        product = rec.products[p]
        n_st = 0
        for k in range(product.n_statements):
            if _i64(product.statements[k].issued_min) <= as_min:
                work[_S_STATEMENTS + n_st] = k
                n_st += 1
        product_first = _i64(product.first_seen_min)
        if (product_first != 0 and product_first <= as_min
                and as_min - product_first <= 90 * _MINUTES_PER_DAY
                and product_first - first_seen_min >= 30 * _MINUTES_PER_DAY):
            new_credit += 1
        code = _i64(product.code)
        if (code in (_CARD, _OVERDRAFT) and n_st > 0
                and _i64(product.statements[work[_S_STATEMENTS + n_st - 1]].credit_limit) > 0):
            last = product.statements[work[_S_STATEMENTS + n_st - 1]]
            last_balance = _i64(last.balance)
            total_balance += last_balance if last_balance > 0 else _i64(0)
            total_limit += _i64(last.credit_limit)
            # the statements with a limit: utilisations, in order
            n_util = 0
            first_limit = _i64(0)
            last_limit = _i64(0)
            util_sum = 0.0
            util_first3 = 0.0  # utils[-3:][0]
            util_last = 0.0
            sum_i = _i64(0)
            for k in range(n_st):
                s = product.statements[work[_S_STATEMENTS + k]]
                limit = _i64(s.credit_limit)
                if limit > 0:
                    balance = _i64(s.balance)
                    util_last = (balance if balance > 0 else _i64(0)) / limit
                    if n_util == 0:
                        first_limit = limit
                    last_limit = limit
                    util_sum += util_last
                    sum_i += n_util
                    n_util += 1
            if n_util >= 2:
                m = 0
                skip = n_util - 3 if n_util > 3 else 0
                for k in range(n_st):
                    s = product.statements[work[_S_STATEMENTS + k]]
                    limit = _i64(s.credit_limit)
                    if limit > 0:
                        if m == skip:
                            balance = _i64(s.balance)
                            util_first3 = (balance if balance > 0 else _i64(0)) / limit
                        m += 1
                trend = util_last - util_first3
                utilisation_trend = trend if trend > utilisation_trend else utilisation_trend
                change = last_limit / first_limit - 1.0
                limit_change = change if change < limit_change else limit_change
            slope = 0.0
            if n_util >= 3:
                mean_x = sum_i / n_util
                mean_y = util_sum / n_util
                sxx = 0.0
                for i in range(n_util):
                    sxx += _py_square(i - mean_x)
                if sxx != 0:
                    sxy = 0.0
                    i = 0
                    for k in range(n_st):
                        s = product.statements[work[_S_STATEMENTS + k]]
                        limit = _i64(s.credit_limit)
                        if limit > 0:
                            balance = _i64(s.balance)
                            util = (balance if balance > 0 else _i64(0)) / limit
                            sxy += (i - mean_x) * (util - mean_y)
                            i += 1
                    slope = sxy / sxx
            utilisation_slope = slope if slope > utilisation_slope else utilisation_slope
        if n_st >= 2:
            before = _i64(0)
            for k in range(n_st - 1):
                balance = _i64(product.statements[work[_S_STATEMENTS + k]].balance)
                before += balance if balance > 0 else _i64(0)
            last_balance = _i64(product.statements[work[_S_STATEMENTS + n_st - 1]].balance)
            growth = (((last_balance if last_balance > 0 else _i64(0)) + SMOOTHING_MINOR)
                      / (before / (n_st - 1) + SMOOTHING_MINOR))
            balance_growth = growth if growth > balance_growth else balance_growth
        # due items: (issued minute, amount due, due day): statements, then instalments
        n_items = 0
        for k in range(n_st):
            s = product.statements[work[_S_STATEMENTS + k]]
            work[_S_ISSUED + n_items] = s.issued_min
            work[_S_DUE + n_items] = s.minimum_due
            work[_S_DUE_DAY + n_items] = s.due_day
            n_items += 1
        for k in range(product.n_instalments):
            inst = product.instalments[k]
            if _i64(inst.issued_min) <= as_min:
                work[_S_ISSUED + n_items] = inst.issued_min
                work[_S_DUE + n_items] = inst.amount_due
                work[_S_DUE_DAY + n_items] = inst.due_day
                n_items += 1
        dpd_at = _i64(product.dpd_at_min)
        status_min = dpd_at if dpd_at <= as_min else _i64(0)
        if n_items:
            # _allocated: payments made by as_min, sorted, to the items issued before each,
            # oldest due date first (ties: issued, position)
            for i in range(n_items):
                j = i - 1
                while j >= 0 and (
                        work[_S_DUE_DAY + work[_S_ORDER + j]] > work[_S_DUE_DAY + i]
                        or (work[_S_DUE_DAY + work[_S_ORDER + j]] == work[_S_DUE_DAY + i]
                            and work[_S_ISSUED + work[_S_ORDER + j]] > work[_S_ISSUED + i])):
                    work[_S_ORDER + j + 1] = work[_S_ORDER + j]
                    j -= 1
                work[_S_ORDER + j + 1] = i
                work[_S_LEFT + i] = work[_S_DUE + i]
                work[_S_RECEIVED + i] = 0
            n_pay = 0
            for k in range(product.n_payments):
                paid_min = _i64(product.payments[k, 0])
                if paid_min <= as_min:
                    amount = _i64(product.payments[k, 1])
                    j = n_pay - 1
                    while j >= 0:
                        other = work[_S_PAYMENTS + j]
                        other_min = _i64(product.payments[other, 0])
                        if other_min < paid_min or (
                                other_min == paid_min
                                and _i64(product.payments[other, 1]) <= amount):
                            break
                        work[_S_PAYMENTS + j + 1] = other
                        j -= 1
                    work[_S_PAYMENTS + j + 1] = k
                    n_pay += 1
            for q in range(n_pay):
                paid_min = _i64(product.payments[work[_S_PAYMENTS + q], 0])
                unspent = _i64(product.payments[work[_S_PAYMENTS + q], 1])
                for o in range(n_items):
                    if unspent <= 0:
                        break
                    i = work[_S_ORDER + o]
                    left = work[_S_LEFT + i]
                    if work[_S_ISSUED + i] <= paid_min and left > 0:
                        share = left if left < unspent else unspent
                        work[_S_LEFT + i] = left - share
                        work[_S_RECEIVED + i] += share
                        unspent -= share
        for i in range(n_items):
            issued = work[_S_ISSUED + i]
            due = work[_S_DUE + i]
            due_day = work[_S_DUE_DAY + i]
            paid_now = work[_S_RECEIVED + i]
            day_end = (due_day + 1) * _MINUTES_PER_DAY
            paid = _paid_between(product, issued, day_end if day_end < as_min + 1
                                 else as_min + 1)
            if due_day < as_day:
                if as_day - 180 < due_day and paid < due:
                    late_6m += 1
                    if paid_now >= due:
                        late_received_6m += 1
                if paid_now < due and status_min < day_end:
                    past_due_amount += due - paid_now
                if due > 0:
                    share_paid = paid / due
                    item_ratio = share_paid if share_paid < 2.0 else 2.0
                else:
                    item_ratio = 1.0
                if not have_latest or due_day > latest_due_day:
                    have_latest = True
                    latest_due_day = due_day
                    pay_ratio = item_ratio
                elif due_day == latest_due_day and item_ratio < pay_ratio:
                    pay_ratio = item_ratio
            else:
                outstanding = due - paid
                if due_day - as_day <= 14 and outstanding > 0:
                    due_next_14 += outstanding
                if due_day - as_day <= DUE_SOON_DAYS and outstanding > spendable:
                    due_soon = 1.0
        streak = _i64(0)
        n_shares = 0
        shares_sum = 0.0
        first_share = 1.0
        for k in range(n_st - 1, -1, -1):
            s = product.statements[work[_S_STATEMENTS + k]]
            due_day = _i64(s.due_day)
            if due_day >= as_day:
                continue  # not yet due: says nothing about payment behaviour
            issued = _i64(s.issued_min)
            balance = _i64(s.balance)
            minimum = _i64(s.minimum_due)
            if k + 1 < n_st:
                cycle_end = _i64(product.statements[work[_S_STATEMENTS + k + 1]].issued_min)
            else:
                cycle_end = as_min + 1
            paid = _paid_between(product, issued, cycle_end)
            if balance > 0:
                part = paid / balance
                share = part if part < 1.0 else 1.0
            else:
                share = 1.0
            if n_shares == 0:
                first_share = share
            shares_sum += share
            n_shares += 1
            if streak == n_shares - 1 and (minimum > 0 and balance > 1.5 * minimum
                                           and minimum <= paid <= 1.1 * minimum):
                streak += 1
        min_only_streak = streak if streak > min_only_streak else min_only_streak
        if n_shares:
            paid_share = first_share if first_share < paid_share else paid_share
            mean_share = shares_sum / n_shares
            paid_share_6s = mean_share if mean_share < paid_share_6s else paid_share_6s
        n_amounts = 0
        for k in range(product.n_payments):
            if _i64(product.payments[k, 0]) <= as_min:
                n_amounts += 1
        if n_amounts >= 4:
            recent_paid = _i64(0)
            earlier = _i64(0)
            m = 0
            start = n_amounts - 6 if n_amounts > 6 else 0
            for k in range(product.n_payments):
                if _i64(product.payments[k, 0]) <= as_min:
                    if m >= n_amounts - 2:
                        recent_paid += _i64(product.payments[k, 1])
                    elif m >= start:
                        earlier += _i64(product.payments[k, 1])
                    m += 1
            trend = ((recent_paid / 2 + SMOOTHING_MINOR)
                     / (earlier / (n_amounts - 2 - start) + SMOOTHING_MINOR))
            payment_trend = trend if trend < payment_trend else payment_trend
        if dpd_at != 0 and dpd_at <= as_min:
            dpd = _i64(product.dpd)
            dpd_current = dpd if dpd > dpd_current else dpd_current
            if dpd > 0:
                in_arrears += 1
        for k in range(product.n_dpd):
            period = _i64(product.dpd_monthly[k].period)
            dpd = _i64(product.dpd_monthly[k].dpd)
            if period_now - 12 < period <= period_now:
                dpd_max_12m = dpd if dpd > dpd_max_12m else dpd_max_12m
                if dpd > 0:
                    arrears_mask |= 1 << (period_now - period)
                if period_now - 6 < period:
                    dpd_max_6m = dpd if dpd > dpd_max_6m else dpd_max_6m
    due_cover = 10.0
    if due_next_14 > 0:
        cover = spendable / due_next_14
        due_cover = cover if cover < 10.0 else 10.0

    def ratio(recent_sum: int, prior_sum: int) -> float:
        if not mature:
            return 1.0
        return (recent_sum + SMOOTHING_MINOR) / (prior_sum * scale + SMOOTHING_MINOR)

    o = out[row]
    o[0] = history_days
    o[1] = float(income_30)
    o[2] = float(income_60)
    o[3] = ratio(income_30, work[_S_PRIOR + _INCOME])
    o[4] = last_salary_ratio
    o[5] = days_since_salary
    o[6] = cadence
    o[7] = delay
    o[8] = missed
    o[9] = float(close)
    o[10] = float(min_balance_30 if have_min_30 else close)
    o[11] = balance_slope
    o[12] = float(overdrawn_days)
    o[13] = runway
    o[14] = due_cover
    o[15] = float(work[_S_RECENT + _SAVINGS_IN])
    o[16] = float(work[_S_RECENT + _N_SUMS + _FAILED_DD])
    o[17] = float(failed_90)
    o[18] = float(work[_S_RECENT + _N_SUMS + _NSF])
    o[19] = ratio(work[_S_RECENT + _ATM_CASH], work[_S_PRIOR + _ATM_CASH])
    o[20] = ratio(lending_30, lending_p)
    o[21] = float(work[_S_RECENT + _LENDING_IN])
    o[22] = ratio(work[_S_RECENT + _BNPL], work[_S_PRIOR + _BNPL])
    o[23] = gambling_share
    o[24] = ratio(work[_S_RECENT + _GAMBLING], work[_S_PRIOR + _GAMBLING])
    o[25] = essential_shift
    o[26] = ratio(disc_30, disc_p)
    o[27] = net_flow
    o[28] = float(n_products)
    o[29] = float(new_credit)
    o[30] = float(total_limit)
    o[31] = limit_change
    o[32] = total_balance / total_limit if total_limit > 0 else 0.0
    o[33] = utilisation_trend
    o[34] = utilisation_slope
    o[35] = balance_growth
    o[36] = paid_share
    o[37] = paid_share_6s
    o[38] = payment_trend
    o[39] = float(min_only_streak)
    o[40] = pay_ratio
    o[41] = due_soon
    o[42] = float(late_6m)
    o[43] = float(late_received_6m)
    o[44] = float(_popcount(arrears_mask & 0x3F))
    o[45] = float(_popcount(arrears_mask))
    o[46] = float(dpd_max_6m if dpd_max_6m > dpd_current else dpd_current)
    o[47] = float(dpd_max_12m if dpd_max_12m > dpd_current else dpd_current)
    o[48] = float(dpd_current)
    o[49] = float(in_arrears)
    o[50] = float(past_due_amount)


@numba.njit(cache=True)
def features_into(states: np.ndarray, index: int, as_of_ms: int, out: np.ndarray,
                  row: int) -> None:
    """Write the feature vector of ``states[index]`` as of ``as_of_ms`` (epoch ms) into
    ``out[row, :]`` (float64, WIDTH columns): ``feature_vector(record_to_state(states,
    index), as_of_ms)`` bit for bit."""
    _vector_row(states, index, as_of_ms, out, row, np.empty(SCRATCH, np.int64))


@numba.njit(cache=True)
def features_batch(states: np.ndarray, index: np.ndarray, as_of: np.ndarray,
                   out: np.ndarray) -> None:
    """``out[r] = `` the features of ``states[index[r]]`` as of ``as_of[r]``, for every r."""
    work = np.empty(SCRATCH, np.int64)
    for r in range(len(index)):
        _vector_row(states, index[r], as_of[r], out, r, work)


@numba.njit(cache=True)
def next_deadline_of(states: np.ndarray, index: int, after_ms: int) -> tuple[int, int]:
    """``(time_ms, kind)`` of ``next_deadline(record_to_state(states, index), after_ms)``,
    kind DUE_SOON or SALARY_MISSED; ``(-1, -1)`` (NO_DEADLINE) for None."""
    rec = states[index]
    after_ms = _i64(after_ms)
    best_time = _i64(-1)
    best_kind = _i64(-1)
    # the salary deadline: the first day salary_missed would be 1 without a new salary
    after_day = after_ms // DAY_MS
    work = np.empty(8, np.int64)
    n_days = 0
    last_day = _i64(0)
    for k in range(rec.n_salaries):
        day = _i64(rec.salary_days[k])
        if day <= after_day:
            if n_days >= 1:
                work[n_days - 1] = day - last_day
            last_day = day
            n_days += 1
    if n_days >= 2:
        cadence = _median(work, 0, n_days - 1)
        first_day = last_day + _i64(np.floor(cadence + SALARY_GRACE_DAYS)) + 1
        salary = first_day * DAY_MS
        if salary > after_ms:
            best_time = salary
            best_kind = _i64(SALARY_MISSED)
    # due-soon deadlines: due items not covered by the (latest) balance
    close = _i64(rec.close_balance)
    spendable = close if close > 0 else _i64(0)
    as_min = after_ms // MINUTE_MS
    for p in range(rec.n_products):
        product = rec.products[p]
        n_st = _i64(product.n_statements)
        for k in range(n_st + product.n_instalments):
            if k < n_st:
                issued = _i64(product.statements[k].issued_min)
                due = _i64(product.statements[k].minimum_due)
                due_day = _i64(product.statements[k].due_day)
            else:
                issued = _i64(product.instalments[k - n_st].issued_min)
                due = _i64(product.instalments[k - n_st].amount_due)
                due_day = _i64(product.instalments[k - n_st].due_day)
            if issued > as_min:
                continue
            paid = _paid_between(product, issued, (due_day + 1) * _MINUTES_PER_DAY)
            if due - paid > spendable:
                at = (due_day - DUE_SOON_DAYS) * DAY_MS
                if at > after_ms and (best_kind < 0 or at < best_time
                                      or (at == best_time and best_kind > DUE_SOON)):
                    best_time = at
                    best_kind = _i64(DUE_SOON)
    return best_time, best_kind


def next_deadline_record(states: np.ndarray, index: int,
                         after_ms: int) -> tuple[int, str] | None:
    """``next_deadline(record_to_state(states, index), after_ms)``, computed by the kernel."""
    time_ms, kind = next_deadline_of(states, index, after_ms)
    if kind < 0:
        return None
    return int(time_ms), _KINDS[kind]

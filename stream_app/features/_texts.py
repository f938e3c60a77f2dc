"""Reason texts that say what changed and by how much, from the scored feature vector. Pure.

``reason_text(column, row)`` is the human text of the reason on feature ``column`` for the
feature vector ``row`` (model column order). Amounts are shown in major units (minor / 100)
without a currency symbol: the state does not know the account's currency. A text never
contains customer data beyond these numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ._catalogue import FEATURES, feature_index

__all__ = ["reason_text"]

Row = Sequence[float]


def _v(row: Row, name: str) -> float:
    return float(row[feature_index(name)])


def _money(minor: float) -> str:
    return f"{minor / 100:,.2f}"


def _pct_change(ratio: float) -> str:
    """'45% below' / '30% above' for a ratio against a baseline."""
    if ratio < 1:
        return f"{(1 - ratio) * 100:.0f}% below"
    return f"{(ratio - 1) * 100:.0f}% above"


def _times(ratio: float) -> str:
    return f"{ratio:.1f} times"


def _plural(n: float, one: str, many: str | None = None) -> str:
    count = round(n)
    return f"{count} {one if count == 1 else (many or one + 's')}"


_FAILED = "direct debits or automatic payments"
_TEXTS: dict[str, Callable[[Row], str]] = {
    "history_days": lambda r: f"Only {_v(r, 'history_days'):.0f} days of account history",
    "income_30d_minor": lambda r: (
        f"Income of {_money(_v(r, 'income_30d_minor'))} in the last 30 days"
        f" ({_money(_v(r, 'income_60d_minor'))} in 60 days)"),
    "income_60d_minor": lambda r: f"Income of {_money(_v(r, 'income_60d_minor'))} in 60 days",
    "income_drop_ratio": lambda r: (
        f"Income in the last 30 days is {_pct_change(_v(r, 'income_drop_ratio'))} the "
        "customer's usual level"),
    "last_salary_ratio": lambda r: (
        f"The last salary was {_pct_change(_v(r, 'last_salary_ratio'))} the usual salary"),
    "days_since_salary": lambda r: (
        f"{_v(r, 'days_since_salary'):.0f} days since the last salary (usually every "
        f"{_v(r, 'salary_cadence_days'):.0f} days)"),
    "salary_cadence_days": lambda r: (
        f"Salary arrives every {_v(r, 'salary_cadence_days'):.0f} days on median, irregularly"),
    "salary_delay_days": lambda r: (
        f"Salary is {_v(r, 'salary_delay_days'):.0f} days later than the usual payday "
        f"(every {_v(r, 'salary_cadence_days'):.0f} days)"),
    "salary_missed": lambda r: (
        f"The expected salary has not arrived: {_v(r, 'salary_delay_days'):.0f} days past "
        "the usual payday"),
    "balance_close_minor": lambda r: (
        f"Current account balance is {_money(_v(r, 'balance_close_minor'))}"),
    "balance_min_30d_minor": lambda r: (
        f"Balance dipped to {_money(_v(r, 'balance_min_30d_minor'))} in the last 30 days"),
    "balance_trend_minor_per_week": lambda r: (
        f"Balance is falling by {_money(-_v(r, 'balance_trend_minor_per_week'))} a week"
        if _v(r, "balance_trend_minor_per_week") < 0 else
        f"Balance trend is {_money(_v(r, 'balance_trend_minor_per_week'))} a week"),
    "overdrawn_days_30d": lambda r: (
        f"Overdrawn on {_plural(_v(r, 'overdrawn_days_30d'), 'day')} in the last 30 days"),
    "runway_days": lambda r: (
        f"At the last 30 days' net outflow the balance lasts about "
        f"{_v(r, 'runway_days'):.0f} days"),
    "next_due_cover_ratio": lambda r: (
        f"The balance covers {min(_v(r, 'next_due_cover_ratio'), 1.0) * 100:.0f}% of the "
        "payments falling due in the next 14 days"),
    "savings_drawdown_30d_minor": lambda r: (
        f"Moved {_money(_v(r, 'savings_drawdown_30d_minor'))} from savings into the current "
        "account in the last 30 days"),
    "failed_dd_30d": lambda r: (
        f"{_plural(_v(r, 'failed_dd_30d'), 'direct debit or automatic payment', _FAILED)}"
        f" failed in the last 30 days ({_v(r, 'failed_dd_90d'):.0f} in 90 days)"),
    "failed_dd_90d": lambda r: (
        f"{_plural(_v(r, 'failed_dd_90d'), 'failed direct debit')} in the last 90 days"),
    "nsf_declines_30d": lambda r: (
        f"{_plural(_v(r, 'nsf_declines_30d'), 'payment')} declined for insufficient funds in "
        "the last 30 days"),
    "atm_cash_ratio": lambda r: (
        f"Cash withdrawals are {_times(_v(r, 'atm_cash_ratio'))} the customer's usual level"),
    "lending_app_ratio": lambda r: (
        f"Lending-app use is {_times(_v(r, 'lending_app_ratio'))} the usual level"),
    "lending_app_borrowed_30d_minor": lambda r: (
        f"Borrowed {_money(_v(r, 'lending_app_borrowed_30d_minor'))} from lending apps in the "
        "last 30 days"),
    "bnpl_ratio": lambda r: (
        f"Buy-now-pay-later spending is {_times(_v(r, 'bnpl_ratio'))} the usual level"),
    "gambling_share_30d": lambda r: (
        f"{_v(r, 'gambling_share_30d') * 100:.0f}% of spending in the last 30 days went to "
        "gambling"),
    "gambling_ratio": lambda r: (
        f"Gambling spending is {_times(_v(r, 'gambling_ratio'))} the usual level"),
    "essential_share_shift": lambda r: (
        f"Essentials' share of spending rose {_v(r, 'essential_share_shift') * 100:.0f} points"),
    "discretionary_ratio": lambda r: (
        f"Discretionary spending is {_pct_change(_v(r, 'discretionary_ratio'))} the usual "
        "level"),
    "net_cashflow_30d_ratio": lambda r: (
        f"Net cash flow in the last 30 days is {_v(r, 'net_cashflow_30d_ratio') * 100:.0f}% "
        "of the money going out"),
    "credit_products": lambda r: f"Holds {_plural(_v(r, 'credit_products'), 'credit product')}",
    "new_credit_90d": lambda r: (
        f"{_plural(_v(r, 'new_credit_90d'), 'new credit product')} in the last 90 days"),
    "credit_limit_minor": lambda r: (
        f"Total card limit is {_money(_v(r, 'credit_limit_minor'))}"),
    "credit_limit_change_ratio": lambda r: (
        f"A card limit was cut by {-_v(r, 'credit_limit_change_ratio') * 100:.0f}%"
        if _v(r, "credit_limit_change_ratio") < 0 else "Card limits unchanged or raised"),
    "revolving_utilisation": lambda r: (
        f"Card balances are at {_v(r, 'revolving_utilisation') * 100:.0f}% of their limits"),
    "utilisation_trend_3s": lambda r: (
        f"Card utilisation rose {_v(r, 'utilisation_trend_3s') * 100:.0f} points over the "
        "last 3 statements"),
    "utilisation_slope_6s": lambda r: (
        f"Card utilisation rises {_v(r, 'utilisation_slope_6s') * 100:.1f} points per "
        "statement"),
    "statement_balance_growth_6s": lambda r: (
        f"The last card statement balance is {_pct_change(_v(r, 'statement_balance_growth_6s'))}"
        " the earlier statements' average"),
    "statement_paid_share": lambda r: (
        f"Paid {_v(r, 'statement_paid_share') * 100:.0f}% of the last card statement"),
    "statement_paid_share_6s": lambda r: (
        f"Paid {_v(r, 'statement_paid_share_6s') * 100:.0f}% of recent card statements on "
        "average"),
    "payment_amount_trend_6s": lambda r: (
        f"Recent card and loan payments are {_pct_change(_v(r, 'payment_amount_trend_6s'))} "
        "the earlier ones"),
    "min_payment_only_streak": lambda r: (
        f"Only the minimum paid on the last "
        f"{_plural(_v(r, 'min_payment_only_streak'), 'card statement')}"),
    "payment_to_due_ratio": lambda r: (
        f"Paid {_v(r, 'payment_to_due_ratio') * 100:.0f}% of what was due at the last due date"),
    "due_soon_shortfall": lambda r: (
        "A payment falls due within 3 days and the balance does not cover it"),
    "late_payments_6m": lambda r: (
        f"{_plural(_v(r, 'late_payments_6m'), 'payment')} short or late in the last 6 months"),
    "late_payments_received_6m": lambda r: (
        f"{_plural(_v(r, 'late_payments_received_6m'), 'payment')} received after the due date "
        "in the last 6 months"),
    "months_in_arrears_6m": lambda r: (
        f"In arrears in {_v(r, 'months_in_arrears_6m'):.0f} of the last 6 months; cured since"),
    "months_in_arrears_12m": lambda r: (
        f"In arrears in {_v(r, 'months_in_arrears_12m'):.0f} of the last 12 months; cured since"),
    "dpd_max_6m": lambda r: (
        f"Was {_v(r, 'dpd_max_6m'):.0f} days past due within the last 6 months; cured since"),
    "dpd_max_12m": lambda r: (
        f"Was {_v(r, 'dpd_max_12m'):.0f} days past due within the last year; cured since"),
    "dpd_current": lambda r: f"{_v(r, 'dpd_current'):.0f} days past due",
    "products_in_arrears": lambda r: (
        f"{_plural(_v(r, 'products_in_arrears'), 'credit product')} in arrears"),
    "amount_past_due_minor": lambda r: (
        f"{_money(_v(r, 'amount_past_due_minor'))} fell due and is still unpaid"),
}

_BY_COLUMN = [_TEXTS[spec.name] for spec in FEATURES]


def reason_text(column: int, row: Row, *, finite: bool | None = None) -> str:
    """The text of the reason on ``column`` for feature vector ``row``; the catalogue's
    generic text when a value of the row is not finite (feature vectors always are; a text
    must never say "nan"). ``finite``: whether every value of ``row`` is, when the caller
    already knows (one check per row, not per reason)."""
    if not (all(map(math.isfinite, row)) if finite is None else finite):
        return FEATURES[column].reason_text
    return _BY_COLUMN[column](row)

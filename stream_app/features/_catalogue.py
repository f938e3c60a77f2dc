"""The feature catalogue: names (in model column order), units, windows and reason texts.

Windows are event-time weeks (Monday-based) counted back from the as-of day's week:
``30d`` = that week and the 4 before (29 to 35 days), ``60d`` = that week and the 8 before,
``90d`` = that week and the 12 before (85 to 91 days), ``prior 60d`` = the 8 weeks before the
``30d`` window. docs/features.md documents every feature.

``reason_code`` and ``reason_text`` are what a risk event shows when the feature's SHAP
contribution raises the risk.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARREARS_NOW", "FEATURES", "FEATURE_NAMES", "FeatureSpec", "feature_index"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    unit: str
    window: str
    reason_code: str
    reason_text: str  # generic text; the risk event's text comes from ._texts with the values
    group: str = "behaviour"  # behaviour | credit | arrears_history | arrears_now


# ``arrears_now`` features describe an amount past due today: they are never reasons of a
# pre-delinquency score (a customer on that track has none) and make the arrears track.
FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("history_days", "days", "all", "R_SHORT_HISTORY",
                "Little account history to judge from"),
    FeatureSpec("income_30d_minor", "minor units", "30d", "R_LOW_INCOME",
                "Income credited in the last 30 days is low"),
    FeatureSpec("income_60d_minor", "minor units", "60d", "R_LOW_INCOME_60D",
                "Income credited in the last 60 days is low"),
    FeatureSpec("income_drop_ratio", "ratio", "30d vs prior 60d", "R_INCOME_DROP",
                "Income fell compared with the customer's usual income"),
    FeatureSpec("last_salary_ratio", "ratio", "last salary vs the ones before",
                "R_SALARY_SMALLER", "The last salary was smaller than usual"),
    FeatureSpec("days_since_salary", "days", "all", "R_SALARY_GAP",
                "Long time since the last salary"),
    FeatureSpec("salary_cadence_days", "days", "last 8 salaries", "R_IRREGULAR_SALARY",
                "Salary arrives irregularly"),
    FeatureSpec("salary_delay_days", "days", "vs own cadence", "R_SALARY_DELAY",
                "Salary is later than the customer's usual payday"),
    FeatureSpec("salary_missed", "flag", "cadence + 3 days", "R_SALARY_MISSED",
                "Expected salary has not arrived"),
    FeatureSpec("balance_close_minor", "minor units", "latest", "R_LOW_BALANCE",
                "Current account balance is low"),
    FeatureSpec("balance_min_30d_minor", "minor units", "30d", "R_BALANCE_MINIMUM",
                "Account balance dipped low in the last 30 days"),
    FeatureSpec("balance_trend_minor_per_week", "minor units/week", "90d", "R_BALANCE_FALLING",
                "Account balance is trending down"),
    FeatureSpec("overdrawn_days_30d", "days", "30d", "R_OVERDRAWN",
                "Account was overdrawn on several days"),
    FeatureSpec("runway_days", "days", "30d", "R_SHORT_RUNWAY",
                "At the recent net outflow the balance lasts only a few days"),
    FeatureSpec("next_due_cover_ratio", "ratio", "next 14 days", "R_DUES_NOT_COVERED",
                "The balance does not cover the payments falling due soon"),
    FeatureSpec("savings_drawdown_30d_minor", "minor units", "30d", "R_SAVINGS_DRAWDOWN",
                "Drawing on savings to fund the current account"),
    FeatureSpec("failed_dd_30d", "count", "30d", "R_FAILED_DD",
                "Direct debits or automatic payments failed recently"),
    FeatureSpec("failed_dd_90d", "count", "90d", "R_FAILED_DD_90D",
                "Repeated failed direct debits over three months"),
    FeatureSpec("nsf_declines_30d", "count", "30d", "R_NSF_DECLINES",
                "Payments declined for insufficient funds"),
    FeatureSpec("atm_cash_ratio", "ratio", "30d vs prior 60d", "R_CASH_WITHDRAWALS",
                "Cash withdrawals rose above the customer's usual level"),
    FeatureSpec("lending_app_ratio", "ratio", "30d vs prior 60d", "R_LENDING_APPS",
                "More use of lending apps than usual"),
    FeatureSpec("lending_app_borrowed_30d_minor", "minor units", "30d", "R_LENDING_APP_BORROWING",
                "Borrowed from lending apps in the last 30 days"),
    FeatureSpec("bnpl_ratio", "ratio", "30d vs prior 60d", "R_BNPL",
                "More buy-now-pay-later spending than usual"),
    FeatureSpec("gambling_share_30d", "share", "30d", "R_GAMBLING_SHARE",
                "A notable share of spending went to gambling"),
    FeatureSpec("gambling_ratio", "ratio", "30d vs prior 60d", "R_GAMBLING_RISE",
                "Gambling spending rose above the customer's usual level"),
    FeatureSpec("essential_share_shift", "share difference", "30d vs prior 60d",
                "R_ESSENTIALS_SQUEEZE", "Essentials take a growing share of spending"),
    FeatureSpec("discretionary_ratio", "ratio", "30d vs prior 60d", "R_SPENDING_CUT",
                "Discretionary spending changed sharply"),
    FeatureSpec("net_cashflow_30d_ratio", "ratio", "30d", "R_NEGATIVE_CASHFLOW",
                "More money is going out than coming in"),
    FeatureSpec("credit_products", "count", "all", "R_MANY_PRODUCTS",
                "Holds many credit products", "credit"),
    FeatureSpec("new_credit_90d", "count", "90d", "R_NEW_CREDIT",
                "Took out new credit recently", "credit"),
    FeatureSpec("credit_limit_minor", "minor units", "latest statements", "R_LOW_LIMIT",
                "Low total card and overdraft limit", "credit"),
    FeatureSpec("credit_limit_change_ratio", "ratio difference", "last 6 statements",
                "R_LIMIT_CHANGE", "A card limit was changed", "credit"),
    FeatureSpec("revolving_utilisation", "ratio", "latest statements", "R_HIGH_UTILISATION",
                "Credit card balances are close to their limits", "credit"),
    FeatureSpec("utilisation_trend_3s", "ratio difference", "last 3 statements",
                "R_UTILISATION_RISING", "Card utilisation has been rising", "credit"),
    FeatureSpec("utilisation_slope_6s", "ratio per statement", "last 6 statements",
                "R_UTILISATION_CREEP", "Card utilisation creeps up statement after statement",
                "credit"),
    FeatureSpec("statement_balance_growth_6s", "ratio", "last 6 statements",
                "R_BALANCE_GROWTH", "Card statement balances are growing", "credit"),
    FeatureSpec("statement_paid_share", "share", "latest due statement", "R_LOW_SHARE_PAID",
                "Paid a small share of the last card statement", "credit"),
    FeatureSpec("statement_paid_share_6s", "share", "last 6 statements", "R_LOW_SHARE_PAID_6S",
                "Paid a small share of recent card statements", "credit"),
    FeatureSpec("payment_amount_trend_6s", "ratio", "last 6 payments", "R_PAYMENTS_FALLING",
                "Card and loan payments are getting smaller", "credit"),
    FeatureSpec("min_payment_only_streak", "statements", "last 6 statements", "R_MIN_PAYMENTS",
                "Only minimum payments on recent card statements", "credit"),
    FeatureSpec("payment_to_due_ratio", "ratio", "latest due date", "R_UNDERPAYMENT",
                "Paid less than was due at the last due date", "credit"),
    FeatureSpec("due_soon_shortfall", "flag", "next 3 days", "R_DUE_SOON_SHORTFALL",
                "A payment falls due within 3 days and the balance does not cover it", "credit"),
    FeatureSpec("late_payments_6m", "count", "180 days", "R_LATE_PAYMENTS",
                "Late or short payments in the last six months", "arrears_history"),
    FeatureSpec("late_payments_received_6m", "count", "180 days", "R_PAID_AFTER_DUE",
                "Payments received after their due date in the last six months",
                "arrears_history"),
    FeatureSpec("months_in_arrears_6m", "30-day periods", "6 x 30 days", "R_ARREARS_MONTHS_6M",
                "Months with arrears in the last six months", "arrears_history"),
    FeatureSpec("months_in_arrears_12m", "30-day periods", "12 x 30 days",
                "R_ARREARS_MONTHS_12M", "Months with arrears in the last year", "arrears_history"),
    FeatureSpec("dpd_max_6m", "days", "6 x 30 days", "R_PAST_DUE_6M",
                "Was past due in the last six months", "arrears_history"),
    FeatureSpec("dpd_max_12m", "days", "12 x 30 days", "R_PAST_DUE_12M",
                "Was past due in the last year", "arrears_history"),
    FeatureSpec("dpd_current", "days", "latest arrears run", "R_PAST_DUE",
                "A credit product is currently past due", "arrears_now"),
    FeatureSpec("products_in_arrears", "count", "latest arrears run", "R_MULTIPLE_ARREARS",
                "Several credit products are in arrears", "arrears_now"),
    FeatureSpec("amount_past_due_minor", "minor units", "unpaid due items", "R_AMOUNT_PAST_DUE",
                "An amount that fell due is still unpaid", "arrears_now"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def feature_index(name: str) -> int:
    return _INDEX[name]


# columns that describe an amount past due today (never a pre-delinquency reason)
ARREARS_NOW: tuple[int, ...] = tuple(i for i, f in enumerate(FEATURES) if f.group == "arrears_now")

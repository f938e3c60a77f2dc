"""The event contract as Python types: validated inputs and the outputs we publish.

Inputs are frozen, slotted dataclasses built only by :mod:`stream_app.serializers` after
validation, so code downstream may trust every field. Enum-like fields are plain strings whose
allowed values are listed here (cheaper than ``enum.Enum`` on the per-event path).
Money is integer minor units; times are epoch milliseconds UTC; dates are epoch days.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BANDS",
    "CATEGORIES",
    "CHANNELS",
    "DIRECTIONS",
    "PAYMENT_KINDS",
    "PRODUCTS",
    "TRACKS",
    "TRANSACTION_STATUSES",
    "CustomerFlags",
    "DeadLetter",
    "InputEvent",
    "Intervention",
    "Payment",
    "Reason",
    "RecordType",
    "RiskScore",
    "Transaction",
]

DIRECTIONS = frozenset({"DEBIT", "CREDIT"})
CHANNELS = frozenset(
    {"CARD", "ATM", "TRANSFER", "DIRECT_DEBIT", "STANDING_ORDER", "CASH_DEPOSIT", "FEE",
     "INTEREST", "OTHER"}
)
CATEGORIES = frozenset(
    {"SALARY", "BENEFITS", "RENT", "UTILITIES", "GROCERIES", "DISCRETIONARY", "GAMBLING",
     "LENDING_APP", "BNPL", "ATM_CASH", "LOAN_REPAYMENT", "SAVINGS_TRANSFER", "OTHER"}
)
TRANSACTION_STATUSES = frozenset({"POSTED", "DECLINED", "RETURNED"})
PRODUCTS = frozenset(
    {"CREDIT_CARD", "PERSONAL_LOAN", "MORTGAGE", "AUTO_LOAN", "BNPL", "OVERDRAFT", "OTHER"}
)
PAYMENT_KINDS = frozenset(
    {"STATEMENT_ISSUED", "INSTALMENT_DUE", "PAYMENT_RECEIVED", "PAYMENT_FAILED",
     "DELINQUENCY_STATUS"}
)
BANDS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# Output contract revision 3: a customer with no amount past due is on the pre-delinquency
# track, one with any amount past due on the arrears track. Records written before revision 3
# read as "UNKNOWN" (the schemas' default), which is never a value the engine publishes.
TRACKS = ("PRE_DELINQUENCY", "ARREARS")


class RecordType(enum.Enum):
    """Record types of the contract, by their Avro full name."""

    TRANSACTION = "com.predelinq.bank.v1.Transaction"
    PAYMENT = "com.predelinq.bank.v1.Payment"
    CUSTOMER_FLAGS = "com.predelinq.bank.v1.CustomerFlags"
    RISK_SCORE = "com.predelinq.risk.v1.RiskScore"
    INTERVENTION = "com.predelinq.risk.v1.Intervention"
    DEADLETTER = "com.predelinq.ops.v1.DeadLetter"
    INTERVENTION_OUTCOME = "com.predelinq.risk.v1.InterventionOutcome"


@dataclass(frozen=True, slots=True)
class Transaction:
    event_id: str
    customer_id: str
    account_id: str
    occurred_at: int
    amount_minor: int
    currency: str
    direction: str
    channel: str
    category: str
    status: str
    merchant_category_code: str | None = None
    decline_reason: str | None = None
    balance_after_minor: int | None = None
    counterparty: str | None = field(default=None, repr=False)  # personal data


@dataclass(frozen=True, slots=True)
class Payment:
    event_id: str
    customer_id: str
    account_id: str
    occurred_at: int
    product: str
    currency: str
    kind: str
    statement_balance_minor: int | None = None
    minimum_due_minor: int | None = None
    credit_limit_minor: int | None = None
    due_date: int | None = None  # epoch day
    amount_due_minor: int | None = None
    amount_minor: int | None = None
    failure_reason: str | None = None
    days_past_due: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerFlags:
    event_id: str
    customer_id: str
    occurred_at: int
    account_id: str | None = None
    opt_out_contact: bool = False
    vulnerable: bool = False
    hardship_plan: bool = False
    deceased: bool = False
    bankruptcy: bool = False


InputEvent = Transaction | Payment | CustomerFlags


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    feature: str
    value: float
    contribution: float
    text: str

    def to_record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "feature": self.feature,
            "value": self.value,
            "contribution": self.contribution,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class RiskScore:
    event_id: str
    customer_id: str
    scored_at: int
    as_of: int
    trigger_event_id: str
    probability: float
    score: int
    band: str
    model_version: str
    top_reasons: tuple[Reason, ...]
    trigger_topic: str | None = None
    features_sha256: str | None = None
    challenger_model_version: str | None = None  # shadow scoring; never acts
    challenger_score: int | None = None
    track: str = "UNKNOWN"  # one of TRACKS; "UNKNOWN" only for records before revision 3
    days_past_due: int | None = None  # current, worst product; 0 on the pre-delinquency track
    roll_probability: float | None = None  # arrears track: to the next bucket within 30 days
    cure_probability: float | None = None  # arrears track: back to current within 30 days

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "scored_at": self.scored_at,
            "as_of": self.as_of,
            "trigger_event_id": self.trigger_event_id,
            "probability": self.probability,
            "score": self.score,
            "band": self.band,
            "model_version": self.model_version,
            "top_reasons": [r.to_record() for r in self.top_reasons],
            "trigger_topic": self.trigger_topic,
            "features_sha256": self.features_sha256,
            "challenger_model_version": self.challenger_model_version,
            "challenger_score": self.challenger_score,
            "track": self.track,
            "days_past_due": self.days_past_due,
            "roll_probability": self.roll_probability,
            "cure_probability": self.cure_probability,
        }


@dataclass(frozen=True, slots=True)
class Intervention:
    intervention_id: str
    customer_id: str
    created_at: int
    action: str
    channel: str
    priority: str
    score: int
    band: str
    reasons: tuple[Reason, ...]
    model_version: str
    policy_version: str
    expires_at: int
    trigger_event_id: str
    experiment_arm: str = "TREATMENT"
    actionable: bool = True  # False: recorded only (suppressed, or the CONTROL arm)
    rule: str | None = None  # the contact rule that suppressed or rerouted the decision
    features: tuple[float, ...] = ()  # decision bundle: the scored vector, model column order
    feature_names_sha256: str | None = None
    track: str = "UNKNOWN"  # one of TRACKS; "UNKNOWN" only for records before revision 3
    days_past_due: int | None = None  # as in the RiskScore that triggered it

    def to_record(self) -> dict[str, Any]:
        return {
            "intervention_id": self.intervention_id,
            "customer_id": self.customer_id,
            "created_at": self.created_at,
            "action": self.action,
            "channel": self.channel,
            "priority": self.priority,
            "score": self.score,
            "band": self.band,
            "reasons": [r.to_record() for r in self.reasons],
            "model_version": self.model_version,
            "policy_version": self.policy_version,
            "expires_at": self.expires_at,
            "trigger_event_id": self.trigger_event_id,
            "experiment_arm": self.experiment_arm,
            "actionable": self.actionable,
            "rule": self.rule,
            "features": list(self.features),
            "feature_names_sha256": self.feature_names_sha256,
            "track": self.track,
            "days_past_due": self.days_past_due,
        }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    raw: bytes | None
    error_class: str
    reason: str
    error_message: str
    failed_at: int

    def to_record(self) -> dict[str, Any]:
        return {
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "key": self.key,
            "raw": self.raw,
            "error_class": self.error_class,
            "reason": self.reason,
            "error_message": self.error_message,
            "failed_at": self.failed_at,
        }

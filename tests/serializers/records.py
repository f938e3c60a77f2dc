"""Realistic wire records (Avro field names, plain integers for times and dates) for the
serializer tests, one builder per record type and one per payment kind."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stream_app.events import (
    DeadLetter,
    Intervention,
    Reason,
    RecordType,
    RiskScore,
)

T0 = 1_767_225_600_000 + 9 * 3_600_000  # 2026-01-01T09:00:00Z
DUE_DAY = (dt.date(2026, 1, 22) - dt.date(1970, 1, 1)).days  # an epoch day

TOPICS = {
    "bank.transactions.v1": RecordType.TRANSACTION,
    "bank.payments.v1": RecordType.PAYMENT,
    "customer.flags.v1": RecordType.CUSTOMER_FLAGS,
}
TOPIC_OF = {record_type: topic for topic, record_type in TOPICS.items()}


def transaction(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "tx-0001",
        "customer_id": "CUST-0000042",
        "account_id": "CA-0000042",
        "occurred_at": T0,
        "amount_minor": 4_599,
        "currency": "EUR",
        "direction": "DEBIT",
        "channel": "CARD",
        "category": "GROCERIES",
        "merchant_category_code": "5411",
        "status": "POSTED",
        "decline_reason": None,
        "balance_after_minor": -12_050,
        "counterparty": "Corner Grocer Ltd",
    }
    record.update(changes)
    return record


def _payment(kind: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": f"pm-{kind.lower()}",
        "customer_id": "CUST-0000042",
        "account_id": "CC-0000042",
        "occurred_at": T0,
        "product": "CREDIT_CARD",
        "currency": "EUR",
        "kind": kind,
        "statement_balance_minor": None,
        "minimum_due_minor": None,
        "credit_limit_minor": None,
        "due_date": None,
        "amount_due_minor": None,
        "amount_minor": None,
        "failure_reason": None,
        "days_past_due": None,
    }
    record.update(fields)
    return record


def payment(kind: str, **changes: Any) -> dict[str, Any]:
    """A valid payment record of ``kind`` with that kind's fields filled in."""
    per_kind: dict[str, dict[str, Any]] = {
        "STATEMENT_ISSUED": {
            "statement_balance_minor": 154_210,
            "minimum_due_minor": 4_626,
            "credit_limit_minor": 300_000,
            "due_date": DUE_DAY,
        },
        "INSTALMENT_DUE": {
            "product": "PERSONAL_LOAN",
            "account_id": "LN-0000042",
            "amount_due_minor": 25_845,
            "due_date": DUE_DAY,
        },
        "PAYMENT_RECEIVED": {"amount_minor": 4_626},
        "PAYMENT_FAILED": {"amount_minor": 4_626, "failure_reason": "INSUFFICIENT_FUNDS"},
        "DELINQUENCY_STATUS": {"days_past_due": 31},
    }
    record = _payment(kind, **per_kind[kind])
    record.update(changes)
    return record


def customer_flags(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "fl-0001",
        "customer_id": "CUST-0000042",
        "account_id": "CA-0000042",
        "occurred_at": T0,
        "opt_out_contact": False,
        "vulnerable": True,
        "hardship_plan": False,
        "deceased": False,
        "bankruptcy": False,
    }
    record.update(changes)
    return record


REASONS = (
    Reason("LOW_BALANCE", "balance_min_30d", -812.5, 0.731, "Balance fell below zero"),
    Reason("RETURNED_DD", "returned_dd_30d", 2.0, 0.4125, "Direct debits were returned"),
)


def risk_score(**changes: Any) -> dict[str, Any]:
    """A revision-3 score on the pre-delinquency track (``changes`` replace record fields)."""
    record = RiskScore(
        event_id="rs-7f3a",
        customer_id="CUST-0000042",
        scored_at=T0 + 1_234,
        as_of=T0,
        trigger_event_id="tx-0001",
        probability=0.8712345678901234,
        score=87,
        band="CRITICAL",
        model_version="2026-01-01T000000Z-abc123",
        top_reasons=REASONS,
        trigger_topic="bank.transactions.v1",
        features_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        track="PRE_DELINQUENCY",
        days_past_due=0,
    ).to_record()
    record.update(changes)
    return record


def arrears_risk_score() -> dict[str, Any]:
    """A revision-3 score on the arrears track: score and probability are the roll's."""
    return risk_score(event_id="rs-9b21", probability=0.4125, score=41, band="HIGH",
                      track="ARREARS", days_past_due=34, roll_probability=0.4125,
                      cure_probability=0.2250)


def intervention(**changes: Any) -> dict[str, Any]:
    """A revision-3 intervention on the pre-delinquency track."""
    record = Intervention(
        intervention_id="iv-5c1e",
        customer_id="CUST-0000042",
        created_at=T0 + 2_000,
        action="INSTALMENT_PLAN",
        channel="SMS",
        priority="HIGH",
        score=87,
        band="CRITICAL",
        reasons=REASONS,
        model_version="2026-01-01T000000Z-abc123",
        policy_version="threshold-80",
        expires_at=T0 + 7 * 86_400_000,
        trigger_event_id="tx-0001",
        experiment_arm="CONTROL",
        track="PRE_DELINQUENCY",
        days_past_due=0,
    ).to_record()
    record.update(changes)
    return record


def dead_letter(key: bytes | None = b"CUST-0000042") -> dict[str, Any]:
    return DeadLetter(
        source_topic="bank.transactions.v1",
        source_partition=3,
        source_offset=1_234_567_890_123,
        key=key,
        raw=b"\x00\x00\x00\x00\x63\xff\xfe not avro",
        error_class="UnknownSchemaIdError",
        reason="unknown_schema_id",
        error_message="schema id 99 is not in the catalogue",
        failed_at=T0 + 5_000,
    ).to_record()


def intervention_outcome(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "crm-outcome-0001",
        "intervention_id": "0b6f4d52-3f1e-5d3a-9a6e-2f1c7e0d9b11",
        "customer_id": "CUST-0000042",
        "occurred_at": T0 + 3_600_000,
        "outcome": "PAYMENT_MADE",
        "channel": "CALL",
        "amount_minor": 4_626,
    }
    record.update(changes)
    return record


def sample(record_type: RecordType) -> dict[str, Any]:
    """One realistic record of every record type in the contract."""
    builders = {
        RecordType.TRANSACTION: transaction,
        RecordType.PAYMENT: lambda: payment("STATEMENT_ISSUED"),
        RecordType.CUSTOMER_FLAGS: customer_flags,
        RecordType.RISK_SCORE: risk_score,
        RecordType.INTERVENTION: intervention,
        RecordType.DEADLETTER: dead_letter,
        RecordType.INTERVENTION_OUTCOME: intervention_outcome,
    }
    return builders[record_type]()

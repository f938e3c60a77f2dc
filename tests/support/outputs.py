"""Builders of output records (risk scores, interventions) as the worker publishes them, and of
intervention outcomes as the CRM reports them."""

from __future__ import annotations

import io
import uuid
from typing import Any

import fastavro

from stream_app.events import Intervention, Reason, RecordType, RiskScore
from stream_app.features import FEATURES
from stream_app.serializers import MAGIC_BYTE, OutputEncoder, SchemaCatalog

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NAMES_SHA256 = "a" * 64
_NAMESPACE = uuid.UUID("5b0c9a52-3f5c-4d0a-9d37-2f1e6b1b9e10")


def reasons(i: int) -> tuple[Reason, ...]:
    picked = (FEATURES[i % len(FEATURES)], FEATURES[(i + 7) % len(FEATURES)])
    return tuple(Reason(f.reason_code, f.name, float(i % 13) + 0.25, 0.5 / (rank + 1) + i * 1e-6,
                        f.reason_text) for rank, f in enumerate(picked))


def score_id(i: int, run: str = "") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"score-{run}-{i}"))


def intervention_id(i: int, run: str = "") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"intervention-{run}-{i}"))


def risk_score(i: int, run: str = "", **changes: Any) -> RiskScore:
    fields: dict[str, Any] = {
        "event_id": score_id(i, run),
        "customer_id": f"cust-{run}-{i % 37}",
        "scored_at": T0 + i * 1000,
        "as_of": T0 + i * 1000 - 5,
        "trigger_event_id": f"tx-{i}",
        "probability": (i % 100) / 100,
        "score": i % 100,
        "band": "MEDIUM",
        "model_version": "m-test",
        "top_reasons": reasons(i),
        "trigger_topic": "bank.transactions.v1",
        "features_sha256": f"{i:064x}",
        "challenger_model_version": "m-challenger" if i % 2 else None,
        "challenger_score": (i + 3) % 100 if i % 2 else None,
    }
    fields.update(changes)
    return RiskScore(**fields)


def intervention(i: int, run: str = "", **changes: Any) -> Intervention:
    fields: dict[str, Any] = {
        "intervention_id": intervention_id(i, run),
        "customer_id": f"cust-{run}-{i % 37}",
        "created_at": T0 + i * 1000,
        "action": "PAYMENT_REMINDER",
        "channel": "SMS",
        "priority": "HIGH",
        "score": 60 + i % 40,
        "band": "HIGH",
        "reasons": reasons(i),
        "model_version": "m-test",
        "policy_version": "policy-test",
        "expires_at": T0 + i * 1000 + 7 * 86_400_000,
        "trigger_event_id": f"tx-{i}",
        "experiment_arm": "CONTROL" if i % 5 == 0 else "TREATMENT",
        "actionable": i % 3 != 0,
        "rule": "cooldown" if i % 3 == 0 else None,
        "features": tuple(float(i) + k / 8 for k in range(len(FEATURES))),
        "feature_names_sha256": NAMES_SHA256,
    }
    fields.update(changes)
    return Intervention(**fields)


_AVRO = OutputEncoder(SchemaCatalog.default(), "avro")
_JSON = OutputEncoder(SchemaCatalog.default(), "json")


def encode(record: RiskScore | Intervention, wire: str = "avro") -> bytes:
    record_type = (RecordType.RISK_SCORE if isinstance(record, RiskScore)
                   else RecordType.INTERVENTION)
    return (_AVRO if wire == "avro" else _JSON).encode(record_type, record.to_record())


def encode_with_schema(record: RiskScore | Intervention, schema_id: int) -> bytes:
    """Confluent frame written with an older revision of the schema (e.g. id 4 or 5)."""
    schema = SchemaCatalog.default().by_id(schema_id)
    assert schema is not None
    names = {f["name"] for f in schema.definition["fields"]}
    body = {k: v for k, v in record.to_record().items() if k in names}
    buffer = io.BytesIO()
    buffer.write(bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(buffer, schema.wire, body)
    return buffer.getvalue()


_OUTCOME_KINDS = ("CONTACTED", "REACHED", "ACCEPTED_PLAN", "PAYMENT_MADE", "COMPLAINT",
                  "OPT_OUT")


def outcome(i: int, run: str = "", **changes: Any) -> dict[str, Any]:
    """An InterventionOutcome record (wire field names) about ``intervention(i // 2, run)``."""
    kind = _OUTCOME_KINDS[i % len(_OUTCOME_KINDS)]
    record: dict[str, Any] = {
        "event_id": f"outcome-{run}-{i}",
        "intervention_id": intervention_id(i // 2, run),
        "customer_id": f"cust-{run}-{(i // 2) % 37}",
        "occurred_at": T0 + i * 1000 + 3_600_000,
        "outcome": kind,
        "channel": "CALL" if i % 2 else None,
        "amount_minor": 2_500 + i if kind == "PAYMENT_MADE" else None,
    }
    record.update(changes)
    return record


def encode_outcome(record: dict[str, Any], wire: str = "avro") -> bytes:
    return (_AVRO if wire == "avro" else _JSON).encode(RecordType.INTERVENTION_OUTCOME, record)

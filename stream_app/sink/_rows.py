"""Output records (as consumed from Kafka) -> rows of the audit tables. Pure, no I/O.

A value is decoded with :class:`~stream_app.serializers.OutputDecoder`: Confluent-framed Avro
written with any revision of the schema (read with the newest, so older records get the new
fields' defaults) or a JSON object. The schema id of the Confluent header is kept in the row
(``None`` for JSON).

Rows are checked against the tables' constraints here: a record that PostgreSQL would refuse
must be rejected (and counted) before the transaction, never inside it, where it would fail
its whole batch on every retry. Error messages name the field, never its value.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from stream_app.events import TRACKS, RecordType
from stream_app.serializers import MAGIC_BYTE, InputError, OutputDecoder, SchemaCatalog

__all__ = ["InterventionRow", "OutcomeRow", "RowDecoder", "RowError", "ScoreRow", "schema_id_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT = 10_000  # far above any field we write; bounds what one bad record can store
_EXPERIMENT_ARMS = frozenset({"TREATMENT", "CONTROL"})
_TRACKS = frozenset({*TRACKS, "UNKNOWN"})  # UNKNOWN: a record written before revision 3
_MAX_DAYS_PAST_DUE = 2**31 - 1  # the column is an integer; the contract's inputs stop at 3650
_OUTCOMES = frozenset({"CONTACTED", "REACHED", "ACCEPTED_PLAN", "PAYMENT_MADE", "COMPLAINT",
                       "OPT_OUT"})
_MAX_EVENT_ID = 200  # intervention_outcomes.event_id's CHECK
_MAX_AMOUNT_MINOR = 2**63 - 1  # bigint


class RowError(ValueError):
    """A record that cannot become a row. ``reason`` is a short, bounded code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ScoreRow(NamedTuple):
    """A row of ``risk_scores``; the field names are the column names."""

    event_id: uuid.UUID
    customer_id: str
    scored_at: datetime
    as_of: datetime
    trigger_event_id: str
    trigger_topic: str | None
    probability: float
    score: int
    band: str
    model_version: str
    top_reasons: str  # JSON array of Reason records
    features_sha256: str | None
    challenger_model_version: str | None
    challenger_score: int | None
    track: str
    days_past_due: int | None
    roll_probability: float | None
    cure_probability: float | None
    schema_id: int | None


class InterventionRow(NamedTuple):
    """A row of ``interventions``; the field names are the column names."""

    intervention_id: uuid.UUID
    customer_id: str
    created_at: datetime
    action: str
    channel: str
    priority: str
    score: int
    band: str
    reasons: str  # JSON array of Reason records
    model_version: str
    policy_version: str
    expires_at: datetime
    trigger_event_id: str
    experiment_arm: str
    actionable: bool
    rule: str | None
    features: list[float]
    feature_names_sha256: str | None
    track: str
    days_past_due: int | None
    schema_id: int | None


class OutcomeRow(NamedTuple):
    """A row of ``intervention_outcomes``; the field names are the column names."""

    event_id: str
    intervention_id: uuid.UUID
    customer_id: str
    occurred_at: datetime
    outcome: str
    channel: str | None
    amount_minor: int | None
    schema_id: int | None


def schema_id_of(value: bytes) -> int | None:
    """The schema id of a Confluent frame, ``None`` for anything else (JSON)."""
    if len(value) >= 5 and value[0] == MAGIC_BYTE:
        return int.from_bytes(value[1:5], "big")
    return None


# --- field readers: each checks presence, type and the table's constraint ---------------------

def _get(record: Mapping[str, Any], name: str, optional: bool) -> Any:
    value = record.get(name)
    if value is None and not optional:
        raise RowError("missing_field", f"{name} is missing")
    return value


def _text(record: Mapping[str, Any], name: str) -> str:
    value = _optional_text(record, name)
    if value is None:
        raise RowError("missing_field", f"{name} is missing")
    return value


def _optional_text(record: Mapping[str, Any], name: str) -> str | None:
    value = _get(record, name, optional=True)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError("wrong_type", f"{name} must be a string")
    if len(value) > _MAX_TEXT or "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise RowError("invalid_value", f"{name} is too long or contains NUL")
    return value


def _integer(record: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = _optional_integer(record, name, low, high)
    if value is None:
        raise RowError("missing_field", f"{name} is missing")
    return value


def _optional_integer(record: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = _get(record, name, optional=True)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RowError("wrong_type", f"{name} must be an integer")
    if not low <= value <= high:
        raise RowError("invalid_value", f"{name} must be between {low} and {high}")
    return value


def _number(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RowError("wrong_type", f"{name} must be a number")
    return float(value)


def _millis(record: Mapping[str, Any], name: str) -> datetime:
    value = _get(record, name, optional=False)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RowError("wrong_type", f"{name} must be epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise RowError("invalid_value", f"{name} is out of range") from None


def _uuid(record: Mapping[str, Any], name: str) -> uuid.UUID:
    value = _text(record, name)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RowError("invalid_value", f"{name} is not a UUID") from None


def _reasons(record: Mapping[str, Any], name: str) -> str:
    value = _get(record, name, optional=True)
    if value is None:
        value = []
    if not isinstance(value, list):
        raise RowError("wrong_type", f"{name} must be an array")
    reasons = []
    for item in value:
        if not isinstance(item, Mapping):
            raise RowError("wrong_type", f"{name} must hold Reason records")
        reasons.append({
            "code": _text(item, "code"),
            "feature": _text(item, "feature"),
            "value": _number(item.get("value"), f"{name}.value"),
            "contribution": _number(item.get("contribution"), f"{name}.contribution"),
            "text": _text(item, "text"),
        })
    # orjson writes NaN and infinities as null: jsonb accepts no other spelling of them
    return orjson.dumps(reasons).decode()


def _features(record: Mapping[str, Any]) -> list[float]:
    value = record.get("features")
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError("wrong_type", "features must be an array of numbers")
    return [_number(v, "features") for v in value]


def _probability(record: Mapping[str, Any]) -> float:
    value = _optional_probability(record, "probability")
    if value is None:
        raise RowError("missing_field", "probability is missing")
    return value


def _optional_probability(record: Mapping[str, Any], name: str) -> float | None:
    value = _get(record, name, optional=True)
    if value is None:
        return None
    value = _number(value, name)
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise RowError("invalid_value", f"{name} must be between 0 and 1")
    return value


def _track(record: Mapping[str, Any]) -> str:
    """The record's track; a record written before revision 3 (JSON without the field, or
    Avro read with the newest schema's default) is ``UNKNOWN``."""
    value = _optional_text(record, "track")
    if value is None:
        return "UNKNOWN"
    if value not in _TRACKS:
        raise RowError("invalid_value", "track must be PRE_DELINQUENCY, ARREARS or UNKNOWN")
    return value


def _boolean(record: Mapping[str, Any], name: str, default: bool) -> bool:
    value = record.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RowError("wrong_type", f"{name} must be a boolean")
    return value


# --- records -> rows -------------------------------------------------------------------------

class RowDecoder:
    """Decodes consumed values of the two output topics and the outcomes topic into rows."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self._decoder = OutputDecoder(catalog or SchemaCatalog.default())

    def _record(self, record_type: RecordType, value: bytes | None) -> dict[str, Any]:
        try:
            return self._decoder.decode(record_type, value)
        except InputError as exc:
            raise RowError(exc.reason, exc.message) from None

    def score_row(self, value: bytes | None) -> ScoreRow:
        r = self._record(RecordType.RISK_SCORE, value)
        assert value is not None  # decode refuses empty values
        return ScoreRow(
            event_id=_uuid(r, "event_id"),
            customer_id=_text(r, "customer_id"),
            scored_at=_millis(r, "scored_at"),
            as_of=_millis(r, "as_of"),
            trigger_event_id=_text(r, "trigger_event_id"),
            trigger_topic=_optional_text(r, "trigger_topic"),
            probability=_probability(r),
            score=_integer(r, "score", 0, 100),
            band=_text(r, "band"),
            model_version=_text(r, "model_version"),
            top_reasons=_reasons(r, "top_reasons"),
            features_sha256=_optional_text(r, "features_sha256"),
            challenger_model_version=_optional_text(r, "challenger_model_version"),
            challenger_score=_optional_integer(r, "challenger_score", 0, 100),
            track=_track(r),
            days_past_due=_optional_integer(r, "days_past_due", 0, _MAX_DAYS_PAST_DUE),
            roll_probability=_optional_probability(r, "roll_probability"),
            cure_probability=_optional_probability(r, "cure_probability"),
            schema_id=schema_id_of(value),
        )

    def intervention_row(self, value: bytes | None) -> InterventionRow:
        r = self._record(RecordType.INTERVENTION, value)
        assert value is not None  # decode refuses empty values
        arm = _optional_text(r, "experiment_arm") or "TREATMENT"
        if arm not in _EXPERIMENT_ARMS:
            raise RowError("invalid_value", "experiment_arm must be TREATMENT or CONTROL")
        return InterventionRow(
            intervention_id=_uuid(r, "intervention_id"),
            customer_id=_text(r, "customer_id"),
            created_at=_millis(r, "created_at"),
            action=_text(r, "action"),
            channel=_text(r, "channel"),
            priority=_text(r, "priority"),
            score=_integer(r, "score", 0, 100),
            band=_text(r, "band"),
            reasons=_reasons(r, "reasons"),
            model_version=_text(r, "model_version"),
            policy_version=_text(r, "policy_version"),
            expires_at=_millis(r, "expires_at"),
            trigger_event_id=_text(r, "trigger_event_id"),
            experiment_arm=arm,
            actionable=_boolean(r, "actionable", default=True),
            rule=_optional_text(r, "rule"),
            features=_features(r),
            feature_names_sha256=_optional_text(r, "feature_names_sha256"),
            track=_track(r),
            days_past_due=_optional_integer(r, "days_past_due", 0, _MAX_DAYS_PAST_DUE),
            schema_id=schema_id_of(value),
        )

    def outcome_row(self, value: bytes | None) -> OutcomeRow:
        r = self._record(RecordType.INTERVENTION_OUTCOME, value)
        assert value is not None  # decode refuses empty values
        event_id = _text(r, "event_id")
        if not 0 < len(event_id) <= _MAX_EVENT_ID:
            raise RowError("invalid_value", f"event_id must be 1 to {_MAX_EVENT_ID} characters")
        outcome = _text(r, "outcome")
        if outcome not in _OUTCOMES:
            raise RowError("invalid_value", "outcome is not one of the contract's outcomes")
        amount = _optional_integer(r, "amount_minor", 0, _MAX_AMOUNT_MINOR)
        if amount is not None and outcome != "PAYMENT_MADE":
            raise RowError("invalid_value", "amount_minor is only for PAYMENT_MADE")
        return OutcomeRow(
            event_id=event_id,
            intervention_id=_uuid(r, "intervention_id"),
            customer_id=_text(r, "customer_id"),
            occurred_at=_millis(r, "occurred_at"),
            outcome=outcome,
            channel=_optional_text(r, "channel"),
            amount_minor=amount,
            schema_id=schema_id_of(value),
        )

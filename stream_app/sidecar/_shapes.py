"""The JSON shapes of the API's answers (described by the OpenAPI document in ``_openapi``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["intervention_record", "iso_utc", "prediction_record", "reason_record",
           "score_record"]

REASON_FIELDS = ("code", "feature", "value", "contribution", "text")


def iso_utc(value: object) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, from an aware (or UTC) ``datetime``, epoch
    milliseconds (the contract's unit) or an ISO-8601 string."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000.0, UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise TypeError(f"not a timestamp: {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: object) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]  # a TypeError here is a contract breach
    return number if math.isfinite(number) else None


def reason_record(reason: object) -> dict[str, Any]:
    """A reason from a ``Reason`` (anything with ``to_record()``) or its record."""
    to_record = getattr(reason, "to_record", None)
    record = to_record() if callable(to_record) else reason
    if not isinstance(record, Mapping):
        raise TypeError(f"not a reason: {type(reason).__name__}")
    return {
        "code": str(record["code"]),
        "feature": str(record["feature"]),
        "value": _number(record.get("value")),
        "contribution": _number(record.get("contribution")),
        "text": str(record.get("text") or ""),
    }


def _reasons(value: object) -> list[dict[str, Any]]:
    if isinstance(value, str | bytes):  # jsonb read without a codec
        value = orjson.loads(value)
    if not isinstance(value, list | tuple):
        raise TypeError("reasons must be a list")
    return [reason_record(r) for r in value]


def prediction_record(customer_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The answer of ``POST /predict`` from a backend's mapping (raises on a broken one)."""
    probability = _number(raw["probability"])
    if probability is None:
        raise ValueError("probability is not a number")
    return {
        "customer_id": customer_id,
        "as_of": iso_utc(raw["as_of"]),
        "probability": probability,
        "score": int(raw["score"]),
        "band": str(raw["band"]),
        "model_version": str(raw["model_version"]),
        "reasons": _reasons(raw.get("reasons", ())),
        "track": str(raw.get("track", "UNKNOWN")),
        "days_past_due": _optional_int(raw.get("days_past_due")),
        "roll_probability": _number(raw.get("roll_probability")),
        "cure_probability": _number(raw.get("cure_probability")),
    }


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def score_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``risk_scores`` row (migration 0001 columns)."""
    return {
        "customer_id": row["customer_id"],
        "event_id": str(row["event_id"]),
        "scored_at": iso_utc(row["scored_at"]),
        "as_of": iso_utc(row["as_of"]),
        "trigger_event_id": row["trigger_event_id"],
        "trigger_topic": _optional_text(row["trigger_topic"]),
        "probability": float(row["probability"]),
        "score": int(row["score"]),
        "band": row["band"],
        "model_version": row["model_version"],
        "reasons": _reasons(row["top_reasons"]),
        "features_sha256": _optional_text(row["features_sha256"]),
        "recorded_at": iso_utc(row["recorded_at"]),
        **_track_fields(row, ("roll_probability", "cure_probability")),
    }


def _track_fields(row: Mapping[str, Any], numbers: tuple[str, ...] = ()) -> dict[str, Any]:
    """Revision 3 columns (migration 0003): the track and days past due, null before it."""
    keys = set(row.keys())
    fields: dict[str, Any] = {
        "track": row["track"] if "track" in keys else None,
        "days_past_due": _optional_int(row["days_past_due"]) if "days_past_due" in keys
        else None,
    }
    for name in numbers:
        fields[name] = _number(row[name]) if name in keys else None
    return fields


def intervention_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``interventions`` row; ``actionable`` and ``rule`` are null where the table has no
    such columns (before migration 0002)."""
    keys = set(row.keys())
    actionable = row["actionable"] if "actionable" in keys else None
    return {
        "intervention_id": str(row["intervention_id"]),
        "created_at": iso_utc(row["created_at"]),
        "action": row["action"],
        "channel": row["channel"],
        "priority": row["priority"],
        "score": int(row["score"]),
        "band": row["band"],
        "reasons": _reasons(row["reasons"]),
        "model_version": row["model_version"],
        "policy_version": row["policy_version"],
        "expires_at": iso_utc(row["expires_at"]),
        "trigger_event_id": row["trigger_event_id"],
        "experiment_arm": row["experiment_arm"],
        "actionable": None if actionable is None else bool(actionable),
        "rule": _optional_text(row["rule"]) if "rule" in keys else None,
        "recorded_at": iso_utc(row["recorded_at"]),
        **_track_fields(row),
    }

"""The OpenAPI 3 document of the API, served at ``{API_PREFIX}/openapi.json``."""

from __future__ import annotations

from typing import Any

from ._auth import API_KEY_HEADER
from ._request_id import MAX_REQUEST_ID_LENGTH
from ._validation import DEFAULT_LIMIT, MAX_BODY_BYTES, MAX_CUSTOMER_ID_LENGTH, MAX_LIMIT

__all__ = ["openapi_document"]

EXAMPLE_CUSTOMER = "C000001"
_REF = "#/components/"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{_REF}{kind}/{name}"}


def _json(schema: dict[str, Any], description: str,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "headers": {"X-Request-ID": _ref("headers", "RequestId"), **(headers or {})},
        "content": {"application/json": {"schema": schema}},
    }
    return response


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


_TIMESTAMP = {"type": "string", "format": "date-time",
              "description": "ISO-8601, UTC, milliseconds (e.g. 2026-03-01T09:30:00.000Z)."}
_BAND = {"type": "string", "description": "LOW, MEDIUM, HIGH or CRITICAL."}
_SCORE = {"type": "integer", "minimum": 0, "maximum": 100}
_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
_REASONS = {"type": "array", "items": _ref("schemas", "Reason"),
            "description": "Top reasons, largest contribution to risk first."}
_STORED_TRACK = _nullable({"type": "string", "enum": ["PRE_DELINQUENCY", "ARREARS", "UNKNOWN"],
                           "description": "The record's track (null: the audit trail is not "
                                          "migrated to 0003; UNKNOWN: recorded before it)."})

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["status", "code", "message", "request_id"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status."},
                "code": {"type": "string", "description": "Stable machine-readable code, e.g. "
                         "validation_error, unauthorized, rate_limited, not_found."},
                "message": {"type": "string", "description": "For people; never holds input "
                            "values."},
                "request_id": {"type": "string"},
            },
        }},
    },
    "PredictRequest": {
        "type": "object",
        "required": ["customer_id"],
        "properties": {"customer_id": _ref("schemas", "CustomerId")},
        "example": {"customer_id": EXAMPLE_CUSTOMER},
    },
    "CustomerId": {"type": "string", "minLength": 1, "maxLength": MAX_CUSTOMER_ID_LENGTH,
                   "example": EXAMPLE_CUSTOMER},
    "Reason": {
        "type": "object",
        "required": ["code", "feature", "value", "contribution", "text"],
        "properties": {
            "code": {"type": "string", "description": "Reason code, e.g. SALARY_LATE."},
            "feature": {"type": "string"},
            "value": _nullable({"type": "number", "description": "The feature's value "
                                                                "(null when not finite)."}),
            "contribution": _nullable({"type": "number", "description": "SHAP contribution "
                                                                       "(log-odds)."}),
            "text": {"type": "string"},
        },
    },
    "Prediction": {
        "type": "object",
        "required": ["customer_id", "as_of", "probability", "score", "band", "model_version",
                     "reasons", "cached"],
        "properties": {
            "customer_id": _ref("schemas", "CustomerId"),
            "as_of": {**_TIMESTAMP, "description": "Event time of the state scored."},
            "probability": _PROBABILITY,
            "score": _SCORE,
            "band": _BAND,
            "model_version": {"type": "string"},
            "reasons": _REASONS,
            "cached": {"type": "boolean", "description": "Served from the answer cache "
                                                          "(CACHE_TTL seconds)."},
            "track": {"type": "string", "enum": ["PRE_DELINQUENCY", "ARREARS", "UNKNOWN"],
                      "description": "PRE_DELINQUENCY (current: the risk-rank score) or "
                                     "ARREARS (past due: the roll probability's score)."},
            "days_past_due": _nullable({"type": "integer", "minimum": 0}),
            "roll_probability": _nullable(_PROBABILITY),
            "cure_probability": _nullable(_PROBABILITY),
        },
    },
    "RiskScore": {
        "type": "object",
        "required": ["customer_id", "event_id", "scored_at", "as_of", "trigger_event_id",
                     "trigger_topic", "probability", "score", "band", "model_version",
                     "reasons", "features_sha256", "recorded_at"],
        "properties": {
            "customer_id": _ref("schemas", "CustomerId"),
            "event_id": {"type": "string", "format": "uuid"},
            "scored_at": _TIMESTAMP,
            "as_of": _TIMESTAMP,
            "trigger_event_id": {"type": "string"},
            "trigger_topic": _nullable({"type": "string"}),
            "probability": _PROBABILITY,
            "score": _SCORE,
            "band": _BAND,
            "model_version": {"type": "string"},
            "reasons": _REASONS,
            "features_sha256": _nullable({"type": "string"}),
            "recorded_at": _TIMESTAMP,
            "track": _STORED_TRACK,
            "days_past_due": _nullable({"type": "integer", "minimum": 0}),
            "roll_probability": _nullable(_PROBABILITY),
            "cure_probability": _nullable(_PROBABILITY),
        },
    },
    "Intervention": {
        "type": "object",
        "required": ["intervention_id", "created_at", "action", "channel", "priority", "score",
                     "band", "reasons", "model_version", "policy_version", "expires_at",
                     "trigger_event_id", "experiment_arm", "actionable", "rule",
                     "recorded_at"],
        "properties": {
            "intervention_id": {"type": "string", "format": "uuid"},
            "created_at": _TIMESTAMP,
            "action": {"type": "string"},
            "channel": {"type": "string"},
            "priority": {"type": "string"},
            "score": _SCORE,
            "band": _BAND,
            "reasons": _REASONS,
            "model_version": {"type": "string"},
            "policy_version": {"type": "string"},
            "expires_at": _TIMESTAMP,
            "trigger_event_id": {"type": "string"},
            "experiment_arm": {"type": "string", "enum": ["TREATMENT", "CONTROL"]},
            "actionable": _nullable({"type": "boolean", "description": "Whether the CRM should "
                                     "act on it (null: not recorded by this audit trail)."}),
            "rule": _nullable({"type": "string", "description": "Contact rule that suppressed "
                               "or rerouted the decision."}),
            "recorded_at": _TIMESTAMP,
            "track": _STORED_TRACK,
            "days_past_due": _nullable({"type": "integer", "minimum": 0}),
        },
    },
    "InterventionList": {
        "type": "object",
        "required": ["customer_id", "limit", "interventions"],
        "properties": {
            "customer_id": _ref("schemas", "CustomerId"),
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "interventions": {"type": "array", "items": _ref("schemas", "Intervention"),
                              "description": "Newest first."},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "model_loaded", "model_version"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "model_loaded": {"type": "boolean"},
            "model_version": _nullable({"type": "string"}),
        },
    },
}

_RETRY_AFTER = {"Retry-After": _ref("headers", "RetryAfter")}
_ERROR = _ref("schemas", "Error")
_RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ERROR, "The body is not valid JSON."),
    "Unauthorized": {**_json(_ERROR, f"{API_KEY_HEADER} missing or wrong."),
                     "headers": {"X-Request-ID": _ref("headers", "RequestId"),
                                 "WWW-Authenticate": {"schema": {"type": "string"}}}},
    "NotFound": _json(_ERROR, "No such customer."),
    "PayloadTooLarge": _json(_ERROR, f"The body is larger than {MAX_BODY_BYTES} bytes."),
    "UnsupportedMediaType": _json(_ERROR, "The body is not application/json."),
    "Unprocessable": _json(_ERROR, "An input has the wrong type, length or range."),
    "TooManyRequests": _json(_ERROR, "Over RATE_LIMIT_MAX_REQUESTS requests in RATE_LIMIT_WINDOW "
                                     "seconds; retry after Retry-After seconds.", _RETRY_AFTER),
    "Unavailable": _json(_ERROR, "Cannot answer now (worker rebalancing, database "
                                 "unreachable or not configured); retry after Retry-After "
                                 "seconds.", _RETRY_AFTER),
}
_COMMON = {"401": _ref("responses", "Unauthorized"), "429": _ref("responses", "TooManyRequests")}


def _customer_operation(summary: str, description: str, ok_schema: str,
                        parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": description,
        "parameters": [_ref("parameters", "CustomerId"), *parameters],
        "responses": {
            "200": _json(_ref("schemas", ok_schema), summary),
            **_COMMON,
            "404": _ref("responses", "NotFound"),
            "422": _ref("responses", "Unprocessable"),
            "503": _ref("responses", "Unavailable"),
        },
    }


def openapi_document(prefix: str) -> dict[str, Any]:
    """The document for an API mounted under ``prefix`` (e.g. ``/api/v1``)."""
    base = "" if prefix == "/" else prefix
    public: list[dict[str, list[str]]] = []
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "predelinq sidecar API",
            "version": "1.0.0",
            "description": (
                "Scores and audit trail of the pre-delinquency engine. Every answer carries "
                "X-Request-ID (the client's, keeping only [A-Za-z0-9._-] and at most "
                f"{MAX_REQUEST_ID_LENGTH} characters, or a new one). Errors are JSON "
                '{"error": {status, code, message, request_id}}. CORS for the origins in '
                "CORS_ORIGINS."),
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": {
            f"{base}/predict": {"post": {
                "summary": "Score a customer now",
                "description": "Scores the customer from the current state of the worker that "
                               "owns its partition, with reasons. Answers are cached for "
                               "CACHE_TTL seconds (`cached: true`).",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("schemas", "PredictRequest")}}},
                "responses": {
                    "200": _json(_ref("schemas", "Prediction"), "The score and its reasons."),
                    "400": _ref("responses", "BadRequest"),
                    **_COMMON,
                    "404": _ref("responses", "NotFound"),
                    "413": _ref("responses", "PayloadTooLarge"),
                    "415": _ref("responses", "UnsupportedMediaType"),
                    "422": _ref("responses", "Unprocessable"),
                    "503": _ref("responses", "Unavailable"),
                },
            }},
            f"{base}/customers/{{customer_id}}/risk": {"get": _customer_operation(
                "Latest risk score",
                "The customer's most recent published score, from the audit trail.",
                "RiskScore", [])},
            f"{base}/customers/{{customer_id}}/interventions": {"get": _customer_operation(
                "Latest interventions",
                "The customer's interventions, newest first, from the audit trail (an empty "
                "list for a customer with scores but no interventions).",
                "InterventionList", [_ref("parameters", "Limit")])},
            f"{base}/health": {"get": {
                "summary": "Liveness of the API and the model in use",
                "security": public,
                "responses": {"200": _json(_ref("schemas", "Health"), "Alive.")},
            }},
            f"{base}/openapi.json": {"get": {
                "summary": "This document",
                "security": public,
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI document."),
                    "429": _ref("responses", "TooManyRequests"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"ApiKeyAuth": {
                "type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                "description": "API_KEY; required unless ENVIRONMENT=development."}},
            "parameters": {
                "CustomerId": {"name": "customer_id", "in": "path", "required": True,
                               "schema": _ref("schemas", "CustomerId")},
                "Limit": {"name": "limit", "in": "query", "required": False,
                          "description": "How many interventions at most.",
                          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                     "default": DEFAULT_LIMIT}},
            },
            "headers": {
                "RequestId": {"required": True, "description": "The request's id.",
                              "schema": {"type": "string", "minLength": 1,
                                         "maxLength": MAX_REQUEST_ID_LENGTH,
                                         "pattern": "^[A-Za-z0-9._-]+$"}},
                "RetryAfter": {"required": True, "description": "Whole seconds to wait.",
                               "schema": {"type": "integer", "minimum": 1}},
            },
            "schemas": _SCHEMAS,
            "responses": _RESPONSES,
        },
    }

"""Metrics and logging helpers shared by the worker, sink and sidecar."""

from ._logging import (
    SENSITIVE_FIELDS,
    JsonFormatter,
    LogHandler,
    RedactingFilter,
    configure_logging,
    logging_config,
    redact,
    redact_text,
)
from .metrics import WorkerMetrics

__all__ = [
    "SENSITIVE_FIELDS",
    "JsonFormatter",
    "LogHandler",
    "RedactingFilter",
    "WorkerMetrics",
    "configure_logging",
    "logging_config",
    "redact",
    "redact_text",
]

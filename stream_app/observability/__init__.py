"""Metrics and logging helpers shared by the worker, sink and sidecar."""

from ._allocations import AllocationReporter, allocation_growth, start_allocation_reports
from ._logging import (
    SENSITIVE_FIELDS,
    JsonFormatter,
    LogHandler,
    RedactingFilter,
    configure_logging,
    logging_config,
    redact,
    redact_text,
    redaction_level,
)
from .metrics import WorkerMetrics

__all__ = [
    "SENSITIVE_FIELDS",
    "AllocationReporter",
    "JsonFormatter",
    "LogHandler",
    "RedactingFilter",
    "WorkerMetrics",
    "allocation_growth",
    "configure_logging",
    "logging_config",
    "redact",
    "redact_text",
    "redaction_level",
    "start_allocation_reports",
]

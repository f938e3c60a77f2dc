"""Metrics and logging helpers shared by the worker, sink and sidecar."""

from ._allocations import allocation_growth, install_allocation_dump
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
    "allocation_growth",
    "configure_logging",
    "install_allocation_dump",
    "logging_config",
    "redact",
    "redact_text",
]

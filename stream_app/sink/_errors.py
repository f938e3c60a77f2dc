"""Errors of the audit sink."""

from __future__ import annotations

__all__ = ["PendingMigrationsError", "SinkStartupError"]


class SinkStartupError(RuntimeError):
    """The sink refuses to start; the message tells the operator what to do."""


class PendingMigrationsError(SinkStartupError):
    """The database lacks migrations this code needs (``predelinq migrate`` applies them)."""

"""Metrics (and later logging helpers) shared by the worker, sink and sidecar."""

from .metrics import WorkerMetrics

__all__ = ["WorkerMetrics"]

"""Prometheus metrics of the API (labels: route templates and methods, never raw paths)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["ApiMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "predelinq_api_requests_total",
            "API requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=registry)
        self.duration = Histogram(
            "predelinq_api_request_duration_seconds",
            "Time to answer an API request, by route template.",
            ["route"], buckets=_BUCKETS, registry=registry)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route).observe(seconds)

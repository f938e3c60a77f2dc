"""Prometheus metrics of the audit sink, in their own registry (one per process, or per test).

Same conventions as the worker's (:mod:`stream_app.observability.metrics`): ``predelinq_sink_``
prefix, base units, ``_total`` for counters, bounded labels only (table names, reason codes).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SinkMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000)


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records = Counter(
            "predelinq_sink_records_total", "Records consumed, by the table they feed.",
            ["table"], registry=r)
        self.rows = Counter(
            "predelinq_sink_rows_total", "Rows inserted into PostgreSQL, by table.", ["table"],
            registry=r)
        self.duplicates = Counter(
            "predelinq_sink_duplicates_total",
            "Rows skipped because their id was already stored (ON CONFLICT DO NOTHING) or "
            "repeated within a batch, by table.", ["table"], registry=r)
        self.skipped = Counter(
            "predelinq_sink_undecodable_total",
            "Records that could not be decoded into a row and were skipped (a bug upstream), "
            "by table and reason.", ["table", "reason"], registry=r)
        self.batch_duration = Histogram(
            "predelinq_sink_batch_duration_seconds",
            "Time of the database transaction that wrote one batch (successful attempts).",
            buckets=_DURATION_BUCKETS, registry=r)
        self.batch_records = Histogram(
            "predelinq_sink_batch_records", "Records per consumed batch.",
            buckets=_SIZE_BUCKETS, registry=r)
        self.retries = Counter(
            "predelinq_sink_retries_total",
            "Failed database attempts of a batch (the same batch is retried with backoff).",
            registry=r)
        self.offset_commit_failures = Counter(
            "predelinq_sink_offset_commit_failures_total",
            "Kafka offset commits that failed after the database commit (the records will be "
            "consumed again and skipped as duplicates).", registry=r)
        self.database_up = Gauge(
            "predelinq_sink_database_up",
            "1 when the last database operation (write or probe) succeeded.", registry=r)
        self.assigned_partitions = Gauge(
            "predelinq_sink_assigned_partitions",
            "Partitions of the output topics assigned to this sink.", registry=r)
        self.last_commit_timestamp = Gauge(
            "predelinq_sink_last_commit_timestamp_seconds",
            "Wall-clock time of the last database commit of a batch.", registry=r)

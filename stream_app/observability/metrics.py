"""Prometheus metrics of a worker, in their own registry (one per process, or per test).

Conventions: ``predelinq_`` prefix, base units (seconds), ``_total`` for counters, and labels
with bounded values only (topic names, reason codes, bands, actions); never a customer id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = ["WorkerMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.input_records = Counter(
            "predelinq_input_records_total", "Records consumed from input topics.", ["topic"],
            registry=r)
        self.dead_letters = Counter(
            "predelinq_dead_letters_total",
            "Input records sent to the dead-letter topic, by source topic and reason.",
            ["topic", "reason"], registry=r)
        self.schema_registry_errors = Counter(
            "predelinq_schema_registry_errors_total",
            "Schema registry calls that got no usable answer (retried with backoff).",
            registry=r)
        self.duplicates = Counter(
            "predelinq_duplicate_events_total",
            "Input events ignored as already applied, by kind: reread (a record read again, "
            "at an offset before the customer's newest applied one: a resume after a crash, "
            "a rebalance or a group reset) or event_id (a recent event id again under a new "
            "offset: a producer's retry).", ["kind"], registry=r)
        self.late_events = Counter(
            "predelinq_late_events_total",
            "Input events older than the lateness bound (also dead-lettered).", registry=r)
        self.scores = Counter(
            "predelinq_scores_total",
            "Risk scores published, by track (PRE_DELINQUENCY, ARREARS) and band.",
            ["track", "band"], registry=r)
        self.interventions = Counter(
            "predelinq_interventions_total", "Interventions published, by action and arm.",
            ["action", "arm"], registry=r)
        self.absence_rescores = Counter(
            "predelinq_absence_rescores_total",
            "Customers rescored because an expected event did not happen, by deadline kind.",
            ["kind"], registry=r)
        self.absence_deferred = Counter(
            "predelinq_absence_deadlines_deferred_total",
            "Batches that reached MAX_DEADLINES_PER_BATCH with absence deadlines still due "
            "(those fire in the partition's next batches).", registry=r)
        self.event_time_rejected = Counter(
            "predelinq_event_time_rejected_total",
            "Input events dated further ahead of the wall clock than MAX_EVENT_SKEW_SECONDS "
            "(dead-lettered as event_time_in_future; of customer flags, only the flags they "
            "set were applied), by topic.", ["topic"], registry=r)
        self.event_time_clamped = Counter(
            "predelinq_event_time_clamped_total",
            "Stored customer states read with an event time beyond the wall clock plus "
            "MAX_EVENT_SKEW_SECONDS (written before such events were refused), clamped there.",
            registry=r)
        self.event_time_lead = Gauge(
            "predelinq_event_time_lead_seconds",
            "Event-time clock (stream time) of an owned input partition minus the wall clock, "
            "after its last batch (negative: behind; at most MAX_EVENT_SKEW_SECONDS ahead "
            "unless the wall clock stepped back).", ["partition"], registry=r)
        self.suppressed = Counter(
            "predelinq_interventions_suppressed_total",
            "Decisions recorded but not actionable, by the contact rule that suppressed them.",
            ["rule"], registry=r)
        self.offset_commit_failures = Counter(
            "predelinq_offset_commit_failures_total",
            "Commits of processed input offsets that failed (retried at the next commit "
            "interval; what is not committed is read again after a crash or a rebalance).",
            registry=r)
        self.state_errors = Counter(
            "predelinq_state_errors_total",
            "Stored customer states that could not be read and were started afresh.", registry=r)
        self.batch_duration = Histogram(
            "predelinq_batch_duration_seconds",
            "Time to process one micro-batch, decode to outputs delivered.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.scoring_duration = Histogram(
            "predelinq_scoring_duration_seconds",
            "Time to score and explain one micro-batch of feature vectors.",
            buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram(
            "predelinq_batch_records", "Records per micro-batch.", buckets=_SIZE_BUCKETS,
            registry=r)
        self.model_info = Info("predelinq_model", "The champion model in use.", registry=r)
        self.model_loaded = Gauge(
            "predelinq_model_loaded", "1 when a verified model is loaded.", registry=r)
        self.model_swaps = Counter(
            "predelinq_model_swaps_total",
            "Models swapped in while running (alias changed), by slot.", ["slot"], registry=r)
        self.drift_psi = Gauge(
            "predelinq_drift_psi",
            "Population stability index of the recent scores / top features against the "
            "champion's training baseline (over the last scored rows).", ["subject"],
            registry=r)
        self.drift_window_rows = Gauge(
            "predelinq_drift_window_rows", "Scored rows in the drift window.", registry=r)
        self.challenger_info = Info(
            "predelinq_challenger_model", "The challenger scored in shadow, if any.",
            registry=r)
        self.challenger_loaded = Gauge(
            "predelinq_challenger_loaded", "1 when a challenger is scored in shadow.",
            registry=r)
        self.challenger_scores = Counter(
            "predelinq_challenger_scores_total",
            "Shadow scores of the challenger, by the band it would give.", ["band"], registry=r)
        self.challenger_score_difference = Histogram(
            "predelinq_challenger_score_difference",
            "Challenger score minus champion score for the same feature vector.",
            buckets=(-50, -20, -10, -5, -1, 0, 1, 5, 10, 20, 50), registry=r)
        self.ready = Gauge(
            "predelinq_ready", "1 when the worker is ready (model, partitions, recovery).",
            registry=r)
        self.assigned_partitions = Gauge(
            "predelinq_assigned_partitions",
            "Input partitions (one per partition number of the co-partitioned input topics) "
            "this worker owns.",
            registry=r)
        self.recovery_remaining = Gauge(
            "predelinq_recovery_remaining_records",
            "Changelog records still to read before table recovery completes.", registry=r)
        self.absence_index_pending = Gauge(
            "predelinq_absence_index_pending_partitions",
            "Owned input partitions whose stored customers are still being added to the "
            "absence-deadline index (after a restart or a rebalance; a slice between batches).",
            registry=r)
        self.rocksdb_block_cache = Gauge(
            "predelinq_rocksdb_block_cache_bytes",
            "Bytes in the RocksDB block cache all of the worker's table databases share "
            "(data, index and filter blocks; bounded by ROCKSDB_BLOCK_CACHE_BYTES).",
            registry=r)
        self.rocksdb_memtables = Gauge(
            "predelinq_rocksdb_memtable_bytes",
            "Bytes in the RocksDB memtables of all of the worker's table databases (soft "
            "bound: ROCKSDB_MEMTABLE_LIMIT_BYTES).",
            registry=r)
        self.rocksdb_table_readers = Gauge(
            "predelinq_rocksdb_table_readers_bytes",
            "Memory of the RocksDB table readers of all of the worker's table databases "
            "outside the block cache (RocksDB's estimate-table-readers-mem, summed).",
            registry=r)
        self.rocksdb_pinned = Gauge(
            "predelinq_rocksdb_block_cache_pinned_bytes",
            "Bytes of the shared RocksDB block cache pinned (in use by readers or pinned "
            "level-0 index and filter blocks; part of predelinq_rocksdb_block_cache_bytes).",
            registry=r)
        self.rocksdb_sst_files = Gauge(
            "predelinq_rocksdb_sst_files_bytes",
            "Bytes of the SST files of all of the worker's table databases (every version "
            "still referenced).",
            registry=r)
        self.intake_buffered = Gauge(
            "predelinq_intake_buffered_records",
            "Input records fetched and waiting for the batch loop (bounded: at the bound the "
            "consumer stops fetching; a full intake with lag growing means processing is the "
            "bottleneck, an empty one with lag growing means fetching is).",
            registry=r)
        self.consumer_lag = Gauge(
            "predelinq_consumer_lag_records",
            "Records of an owned input partition not committed yet (end offset minus "
            "committed offset, as this worker last saw them).",
            ["topic", "partition"], registry=r)
        self.last_batch_timestamp = Gauge(
            "predelinq_last_batch_timestamp_seconds",
            "Wall-clock time the last micro-batch finished (liveness of the agent).",
            registry=r)

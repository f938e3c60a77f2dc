"""The Faust worker: topics, the changelog-backed customer-state table, the scoring agent,
and the services that run beside it (topic check, sidecar).

The agent consumes raw bytes from all input topics (one Faust topic over several names, all
co-partitioned by customer_id) in micro-batches with ``take_events``, hands them to the pure
:class:`~stream_app.processing.BatchProcessor`, and produces its outputs, awaiting delivery
before the batch is acknowledged (at-least-once; output ids are deterministic).

Table writes are made under the context of an event *of the same partition* as the customer
(faust routes a table write to the changelog partition of the "current event"; with batches,
the current event is otherwise the batch's last one, which would put other partitions' keys
into the wrong changelog partition and lose them on rebalance).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import faust
import mode
import numpy as np
from aiokafka.partitioner import murmur2

from stream_app.events import RecordType
from stream_app.kafka import (
    CONTACTS_TABLE,
    STATE_TABLE,
    KafkaAuthenticationError,
    ensure_topics,
    faust_broker_urls,
    faust_credentials,
)
from stream_app.observability import WorkerMetrics, logging_config
from stream_app.policy import InterventionPolicy, load_policy
from stream_app.processing import BatchProcessor, InputRecord, OutputRecord, OutputTopics
from stream_app.scoring import DriftMonitor, ScoredBatch, ScoringModel
from stream_app.serializers import InputDecoder, OutputEncoder, SchemaCatalog
from stream_app.settings import ProcessingGuarantee, Settings
from stream_app.sidecar import HealthSource, Sidecar, SidecarApi

from ._faust_fixes import CommitPolicy, apply_faust_fixes, set_commit_policy
from ._models import ModelSlot, ModelWatcher
from ._predict import WorkerPredictBackend

__all__ = ["TABLE_NAME", "WorkerRuntime"]

log = logging.getLogger(__name__)
TABLE_NAME = STATE_TABLE
_TOPIC_RETRY_MAX_SECONDS = 30.0
_FINISH_BATCH_ON_STOP_SECONDS = 30.0
_INDEX_SLICE_CUSTOMERS = 500  # one slice of the absence-deadline index: ~25-50 ms of CPU


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """The memory bounds of each RocksDB database faust opens (one per table partition),
    as faust's ``RocksDBOptions`` takes them; a fresh dict per table (faust pops keys from
    it). The memory store ignores them."""
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_bytes,
        "max_write_buffer_number": settings.rocksdb_max_write_buffers,
        "block_cache_size": settings.rocksdb_block_cache_bytes,
    }


class _FaustTableStore:
    """StateStore over faust Tables, entering the right partition's event context.

    A write goes to the table's store at once; its changelog record is sent by
    ``send_changelog()`` *after the batch's outputs are delivered* and awaited before the
    batch is acknowledged. The order matters with at-least-once: if a worker dies after
    writing a customer's state to the changelog but before its risk events are delivered,
    the new owner restores a state that already holds those events' ids, treats their
    re-delivery as duplicates and never publishes their risk events. Outputs first, then
    state: a crash in between only re-publishes identical outputs. (Faust's own
    ``table[key] = value`` leaves the record in a buffer drained in the background, which
    gives neither order nor, with exactly_once, the guarantee that it joins the transaction
    of the batch's offsets.)
    """

    def __init__(self, table: Any, contacts: Any, stream: Any,
                 events_by_partition: Mapping[int, Any], partitions: int) -> None:
        self._table = table
        self._contacts = contacts
        self._partitions = partitions
        self._stream = stream
        self._events = events_by_partition
        self._entered: int | None = None
        self._changelog: list[tuple[Any, int, bytes, bytes]] = []  # (table, partition, k, v)

    def _enter(self, partition: int) -> None:
        if self._entered != partition:
            # faust keeps no public way to choose the event a table write belongs to
            self._stream._set_current_event(self._events[partition])
            self._entered = partition

    def get(self, partition: int, key: bytes) -> bytes | None:
        self._enter(partition)
        value: bytes | None = self._table.get(key)
        return value

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(self._table, partition, key, value)

    def _write(self, table: Any, partition: int, key: bytes, value: bytes) -> None:
        self._enter(partition)  # the store (RocksDB) files the key under this partition
        table.data[key] = value
        self._changelog.append((table, partition, key, value))

    def send_changelog(self) -> list[Any]:
        """Send this batch's changelog records; returns their delivery futures."""
        sends = [table.send_changelog(partition, key, value)
                 for table, partition, key, value in self._changelog]
        self._changelog.clear()
        return sends

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        self._enter(partition)
        value: bytes | None = self._contacts.get(key)
        return value

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(self._contacts, partition, key, value)

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Stored customers of one input partition, lazily, from a snapshot (the processor
        reads it a slice at a time between batches; see BatchProcessor.index_step)."""
        return partition_items(self._table, partition, self._partitions)


def partition_items(table: Any, partition: int, partitions: int) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs a faust table stores for one partition.

    RocksDB keeps one database per partition: its iterator reads a consistent snapshot, and
    the database stays open while iterated even if the partition is revoked meanwhile (faust
    drops its reference without closing it). The memory store keeps one dict: the keys of the
    partition are listed first (keys map to partitions with Kafka's default partitioner,
    which producers must use: co-partitioning by customer_id), values read when reached."""
    store = table.data
    if hasattr(store, "_db_for_partition"):  # faust.stores.rocksdb.Store (private API)
        snapshot = iter(store._db_for_partition(partition).items())  # taken now, not lazily
        offset_key = store.offset_key  # where faust keeps the changelog offset, not a customer
        return ((k, v) for k, v in snapshot if k != offset_key)
    data = store.data  # faust.stores.memory.Store: a dict of every partition's keys
    keys = [k for k in list(data) if (murmur2(k) & 0x7FFFFFFF) % partitions == partition]
    return ((k, v) for k in keys if (v := data.get(k)) is not None)


class _TopicsService(mode.Service):
    """Creates missing topics and checks co-partitioning before the app starts; waits with
    backoff while the broker is unreachable."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings

    async def on_start(self) -> None:
        delay = 0.5
        while True:
            try:
                created = await ensure_topics(self._settings)
            except Exception as exc:
                if type(exc).__name__ == "TopicLayoutError":
                    raise
                if isinstance(exc, KafkaAuthenticationError):  # the message has no password
                    log.error("Kafka refused the login, %s; retrying in %.1fs", exc, delay)
                else:
                    log.warning("Kafka not reachable yet (%s); retrying in %.1fs",
                                type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _TOPIC_RETRY_MAX_SECONDS)
                continue
            if created:
                log.info("created topics: %s", ", ".join(created))
            return


class _SidecarService(mode.Service):
    def __init__(self, sidecar: Sidecar, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sidecar = sidecar

    async def on_start(self) -> None:
        await self._sidecar.start()

    async def on_stop(self) -> None:
        await self._sidecar.stop()


class WorkerRuntime:
    """Everything one worker process owns."""

    def __init__(
        self,
        settings: Settings,
        model: ScoringModel,
        *,
        challenger: ScoringModel | None = None,
        metrics: WorkerMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        apply_faust_fixes()
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.champion = ModelSlot("champion", settings.model_path, model=model,
                                  pinned_version=settings.model_version,
                                  on_change=self._model_changed)
        self.challenger = ModelSlot("challenger", settings.challenger_model_path or "",
                                    model=challenger, on_change=self._model_changed)
        self._model_changed(self.champion)
        self._model_changed(self.challenger)
        self._drift: DriftMonitor | None = None
        self.policy = InterventionPolicy(load_policy(settings.policy_path),
                                         enabled=settings.enable_interventions,
                                         threshold=settings.auto_trigger_threshold)
        catalog = SchemaCatalog.default()
        topic_types = {
            settings.topic_transactions: RecordType.TRANSACTION,
            settings.topic_payments: RecordType.PAYMENT,
            settings.topic_customer_flags: RecordType.CUSTOMER_FLAGS,
        }
        self.processor = BatchProcessor(
            decoder=InputDecoder(catalog, topic_types),
            encoder=OutputEncoder(catalog, settings.output_format.value),
            model=self.current_model,
            challenger=self.challenger,
            observer=self._observe_scores,
            policy=self.policy,
            topics=OutputTopics(settings.topic_risk_scores, settings.topic_interventions,
                                settings.topic_deadletter),
            metrics=self.metrics,
            clock=clock,
        )
        self.app = self._create_app()
        self._input_topics = frozenset(settings.input_topics)
        self._transactional_prefix: str | None = None  # "<app>-<topic group>-" (exactly_once)
        # input records whose batch delivered outputs and state: only these are committable
        self._processed: weakref.WeakSet[Any] = weakref.WeakSet()
        set_commit_policy(self.app, CommitPolicy(self._input_topics, self._committable))
        self.input_topic = self.app.topic(
            *settings.input_topics,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
        )
        self.table = self.app.Table(
            TABLE_NAME,
            partitions=settings.topic_partitions,
            key_type=bytes,  # bytes -> the "raw" codec for the changelog, no JSON round trip
            value_type=bytes,
            default=None,
            options=rocksdb_options(settings),
        )
        self.contacts = self.app.Table(  # contact history and care flags (rarely written)
            CONTACTS_TABLE,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            default=None,
            options=rocksdb_options(settings),
        )
        self.app.agent(self.input_topic, name="score-customers")(self._agent)
        self.app.task(self._index_stored_customers)
        # faust's signal typing rejects bound async methods that mypy should accept
        self.app.on_partitions_revoked.connect(cast(Any, self._on_partitions_revoked))
        self.predict_backend = WorkerPredictBackend(
            app=self.app,
            table=self.table,
            input_topic=settings.topic_transactions,
            partitions=settings.topic_partitions,
            own_url=self.advertised_url,
            api_prefix=settings.api_prefix,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            model=self.current_model,
            bands=self.policy.bands,
            stream_time=self.processor.deadlines.stream_time,
            is_ready=lambda: all(self.readiness().values()),
        )
        self.sidecar = Sidecar(
            metrics=self.metrics,
            health=HealthSource(
                model_version=lambda: self.current_model().version,
                readiness=self.readiness,
                refresh_metrics=self.refresh_metrics,
            ),
            api_prefix=settings.api_prefix,
            host=settings.sidecar_host,
            port=settings.sidecar_port,
            api=SidecarApi.from_settings(settings, backend=self.predict_backend,
                                         registry=self.metrics.registry),
        )

    @property
    def advertised_url(self) -> str:
        """The sidecar URL other workers forward /predict calls to (faust's canonical_url)."""
        s = self.settings
        if s.sidecar_advertised_url:
            return s.sidecar_advertised_url.rstrip("/")
        wildcard = s.sidecar_host in ("0.0.0.0", "::")  # noqa: S104 - compared, not bound
        host = socket.gethostname() if wildcard else s.sidecar_host
        return f"http://{host}:{s.sidecar_port}"

    def _create_app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_name,
            broker=faust_broker_urls(s),
            broker_credentials=faust_credentials(s),
            store=s.state_store_url,
            datadir=s.state_dir,
            topic_partitions=s.topic_partitions,
            topic_replication_factor=s.topic_replication_factor,
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            canonical_url=self.advertised_url,
            autodiscover=False,
            broker_session_timeout=s.kafka_session_timeout_seconds,
            broker_heartbeat_interval=s.kafka_heartbeat_interval_seconds,
            broker_rebalance_timeout=s.kafka_rebalance_timeout_seconds,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            processing_guarantee=s.processing_guarantee.value,
            table_standby_replicas=0,
        )

    async def _on_partitions_revoked(self, sender: Any, *args: Any, signal: Any = None,
                                     **kwargs: Any) -> None:
        """faust signal receiver: ``send(revoked)`` calls it as ``(sender, revoked, signal=)``."""
        revoked: set[Any] = args[0] if args else kwargs.get("revoked", set())
        inputs = set(self.settings.input_topics)
        for tp in revoked:
            if tp.topic in inputs:
                self.processor.forget_partition(tp.partition)

    # --- the absence-deadline index ----------------------------------------------------------
    async def _index_stored_customers(self) -> None:
        """Adds the stored customers of newly owned partitions to the processor's deadline
        index, a slice at a time, yielding to the event loop between slices (batches, the
        sidecar and heartbeats go on meanwhile; a million customers take a minute or so).
        A faust app task, so it runs as long as the app does."""
        processor = self.processor
        while True:
            if processor.indexing_partitions and not self.app.rebalancing:
                started = time.perf_counter()
                processor.index_step(_INDEX_SLICE_CUSTOMERS)
                if not processor.indexing_partitions:
                    log.info("absence-deadline index complete")
                # leave the loop at least as long again to everything else
                await asyncio.sleep(time.perf_counter() - started)
            else:
                await asyncio.sleep(0.2)

    # --- the agent ---------------------------------------------------------------------------
    async def _agent(self, stream: Any) -> None:
        within = self.settings.batch_window_ms / 1000.0
        # Only take_events acknowledges our events (after each batch). With the stream's own
        # acks enabled, take_events switches them back on when it closes at shutdown while
        # the stream still drains buffered events in the background: those were acknowledged
        # (and committed) without ever being processed.
        stream.enable_acks = False
        async for events in stream.take_events(self.settings.batch_size, within=within):
            # take_events acknowledges the batch in a ``finally`` even when the agent is
            # cancelled (a graceful shutdown), and faust then commits those offsets: a batch
            # cut off before its outputs were delivered would be lost. So a started batch is
            # finished before the cancellation goes on.
            batch = asyncio.ensure_future(self.handle_batch(stream, events))
            try:
                await asyncio.shield(batch)
            except asyncio.CancelledError:
                try:
                    await asyncio.wait_for(batch, _FINISH_BATCH_ON_STOP_SECONDS)
                except Exception:
                    log.error("the batch in progress could not finish during shutdown; its "
                              "records may be acknowledged without outputs")
                raise

    def _committable(self, message: Any) -> bool:
        """The commit policy (see _faust_fixes): an input record's offset may be committed
        only once a batch has delivered its outputs and state."""
        return message in self._processed

    def _current(self, events: Sequence[Any]) -> list[Any]:
        """The events this worker may process now: fetched in the current consumer generation
        from a partition it still owns. Events buffered before a rebalance are left alone:
        their partition may belong to another worker now (processing them here would race
        its changelog writes), and if it is still ours faust seeks back to the committed
        offset, so they come again. Left alone, they are not committable either."""
        app = self.app
        generation = app.consumer_generation_id
        assigned = app.consumer.assignment()
        current = [e for e in events
                   if e.message.generation_id == generation and e.message.tp in assigned]
        if len(current) != len(events):
            log.info("left %d events fetched before a rebalance for their next delivery",
                     len(events) - len(current))
        return current

    async def handle_batch(self, stream: Any, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        events = self._current(events)
        if not events:
            return
        records = []
        last_by_partition: dict[int, Any] = {}
        for event in events:
            message = event.message
            records.append(InputRecord(message.topic, message.partition, message.offset,
                                       message.key, message.value))
            last_by_partition[message.partition] = event
        store = _FaustTableStore(self.table, self.contacts, stream, last_by_partition,
                                 self.settings.topic_partitions)
        # Restore the stream's current event as found, not as the batch's last one: take_events
        # files each buffered value under the stream's current event when it resumes, and a
        # value waiting while this batch runs (which it does since the batch is its own task)
        # would be filed under this batch's last event: processed twice, its own record lost.
        before = stream.current_event
        try:
            result = self.processor.process(records, store)
        finally:
            stream._set_current_event(before)
        deliveries = [await self._send(out) for out in result.outputs]
        if deliveries:
            await asyncio.gather(*deliveries)
        changelog = store.send_changelog()  # after the outputs: see _FaustTableStore
        if changelog:
            await asyncio.gather(*changelog)
        self._processed.update(event.message for event in events)  # now committable
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        self.metrics.last_batch_timestamp.set(time.time())

    async def _send(self, out: OutputRecord) -> Any:
        """Hand one output to the producer; returns its delivery future.

        With exactly_once the output joins the transaction of its input partition (faust's
        transactional id ``<app>-<topic group>-<partition>``), committed together with that
        partition's consumed offsets and table changelog records. Faust's own routing of a
        send to a transaction only knows the topics it consumes, so for our output topics it
        would fall back to the non-transactional producer (outputs would then repeat after a
        crash); hence the explicit transactional id and partition.
        """
        producer = self.app.producer
        if self.settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE:
            if self._transactional_prefix is None:  # the topic group is fixed once assigned
                group = self.app.assignor.group_for_topic(self.settings.topic_transactions)
                self._transactional_prefix = f"{self.app.conf.id}-{group}-"
            partition = out.source_partition
            return await producer.send(
                out.topic, out.key, out.value, partition, None, None,
                transactional_id=f"{self._transactional_prefix}{partition}")
        return await producer.send(out.topic, out.key, out.value, None, None, None)

    # --- models ------------------------------------------------------------------------------
    def current_model(self) -> ScoringModel:
        model = self.champion.model
        assert model is not None  # the champion slot is created with a verified model
        return model

    def _model_changed(self, slot: ModelSlot) -> None:
        if slot.name == "champion" and slot.model is not None:
            self.metrics.model_loaded.set(1)
            self.metrics.model_info.info({
                "version": slot.model.version,
                "feature_code_matches": str(slot.model.feature_code_matches).lower(),
            })
        elif slot.name == "challenger":
            self.metrics.challenger_loaded.set(1 if slot.model is not None else 0)
            self.metrics.challenger_info.info(
                {"version": slot.model.version if slot.model is not None else ""})

    def _observe_scores(self, model: ScoringModel, scored: ScoredBatch,
                        matrix: np.ndarray) -> None:
        if self._drift is None or self._drift.version != model.version:
            self._drift = DriftMonitor.from_metadata(model.version, model.metadata)
            self.metrics.drift_psi.clear()
        if self._drift is not None:
            self._drift.observe(scored.scores, matrix)

    # --- health ------------------------------------------------------------------------------
    def _recovery(self) -> Any:
        """faust's Recovery service (typed as an attribute of the TableManager class only)."""
        return getattr(self.app.tables, "recovery")  # noqa: B009 - see docstring
    def readiness(self) -> dict[str, bool]:
        app = self.app
        try:
            assigned = bool(app.consumer.assignment()) if app.consumer else False
        except Exception:  # consumer not started yet
            assigned = False
        recovery = self._recovery()
        return {
            "model_loaded": self.champion.model is not None,
            "partitions_assigned": assigned and not app.rebalancing,
            "recovery_finished": recovery.completed.is_set() and not recovery.in_recovery,
        }

    def refresh_metrics(self) -> None:
        if self._drift is not None:
            for subject, value in self._drift.psi().items():
                self.metrics.drift_psi.labels(subject).set(value)
            self.metrics.drift_window_rows.set(self._drift.observed)
        checks = self.readiness()
        self.metrics.ready.set(1 if all(checks.values()) else 0)
        try:
            assignment = self.app.consumer.assignment() if self.app.consumer else set()
            self.metrics.assigned_partitions.set(  # input partitions, not changelogs
                sum(1 for tp in assignment if tp.topic == self.settings.topic_transactions))
            self.metrics.recovery_remaining.set(self._recovery().active_remaining_total())
            self.metrics.absence_index_pending.set(self.processor.indexing_partitions)
            self._refresh_lag(assignment)
        except Exception:  # not started yet
            self.metrics.assigned_partitions.set(0)

    def _refresh_lag(self, assignment: set[Any]) -> None:
        """Consumer lag of the owned input partitions, from faust's monitor (end offsets
        seen by the fetcher, offsets this worker committed); unknown until the first
        commit. A stall in committing shows as lag that grows while records are scored."""
        monitor = self.app.monitor
        ends, committed = monitor.tp_end_offsets, monitor.tp_committed_offsets
        self.metrics.consumer_lag.clear()
        for tp in assignment:
            if tp.topic in self._input_topics and tp in ends and tp in committed:
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(0, ends[tp] - committed[tp]))

    # --- running -----------------------------------------------------------------------------
    def services(self) -> list[mode.Service]:
        slots = [self.champion]
        if self.settings.challenger_model_path:
            slots.append(self.challenger)
        return [_SidecarService(self.sidecar), _TopicsService(self.settings),
                ModelWatcher(slots, self.settings.model_watch_interval_seconds, self.metrics)]

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        Path(self.settings.state_dir).mkdir(parents=True, exist_ok=True)
        worker = faust.Worker(
            self.app,
            *self.services(),
            loglevel=self.settings.log_level.lower(),
            logging_config=logging_config(self.settings),  # LOG_FORMAT, redaction at INFO+
            redirect_stdouts=False,
        )
        worker.spinner = None  # the spinner resets the root logger to DEBUG (design notes)
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

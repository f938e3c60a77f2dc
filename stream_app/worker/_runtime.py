"""The Faust worker: topics, the changelog-backed customer-state tables, the batch loop,
and the services that run beside it (topic check, sidecar).

faust's consumer (its group, co-partitioned assignment, seeks and flow control) fetches the
input topics (all co-partitioned by customer_id) and the tables' changelogs; the records of
the input topics go straight into the :class:`~._intake.Intake` as raw bytes (see
``_faust_hooks``) instead of through a faust agent's stream. The batch loop takes them in
micro-batches, hands them to the pure :class:`~stream_app.processing.BatchProcessor`,
delivers the outputs, then the tables' changelog records, and only then counts the records
as processed (``_offsets``); it commits processed offsets itself, between batches (with
exactly_once: in the transaction of each input partition, with its outputs and changelog).
Before a rebalance revokes partitions, and before the worker leaves the group, the batch in
progress finishes and what was processed is committed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import faust
import mode
import numpy as np

from stream_app.backoff import Backoff, retry
from stream_app.events import RecordType
from stream_app.features import kernels
from stream_app.kafka import (
    CONTACTS_TABLE,
    STATE_TABLE,
    KafkaAuthenticationError,
    ensure_topics,
    faust_broker_urls,
    faust_credentials,
)
from stream_app.observability import WorkerMetrics, logging_config
from stream_app.partitioning import producer_partitioner
from stream_app.policy import InterventionPolicy, load_policy
from stream_app.processing import (
    DEVELOPMENT_OUTPUT_ID_KEY,
    BatchProcessor,
    InputRecord,
    OutputRecord,
    OutputTopics,
    Placement,
)
from stream_app.schema_registry import (
    SchemaLearner,
    SchemaRegistryError,
    register_outputs,
)
from stream_app.scoring import DriftMonitor, ScoredBatch, ScoringModel
from stream_app.serializers import InputDecoder, OutputEncoder, SchemaCatalog
from stream_app.settings import ProcessingGuarantee, Settings
from stream_app.sidecar import HealthSource, ServerLimits, Sidecar, SidecarApi

from ._faust_fixes import apply_faust_fixes, set_fetch_max_wait
from ._faust_hooks import install_hooks, set_intake, set_quiesce_hook
from ._intake import Intake
from ._models import ModelSlot, ModelWatcher
from ._offsets import OffsetLedger
from ._predict import WorkerPredictBackend
from ._rocksdb_memory import (
    RocksDBMemory,
    bound_rocksdb_memory,
    open_databases,
    rocksdb_usage,
)
from ._table_store import TableStore

__all__ = ["TABLE_NAME", "WorkerRuntime"]

log = logging.getLogger(__name__)
TABLE_NAME = STATE_TABLE
_TOPIC_RETRY_MAX_SECONDS = 30.0
_FINISH_BATCH_ON_STOP_SECONDS = 30.0
_AT_LEAST_ONCE_COMMIT_SECONDS = 0.25
_MIN_INTAKE_BUFFER = 2_000  # records fetched ahead of the batch loop
_INDEX_SLICE_CUSTOMERS = 500  # one slice of the absence-deadline index: ~25-50 ms of CPU


class _TopicsService(mode.Service):
    """Creates missing topics and checks co-partitioning before the app starts; waits with
    backoff while the broker is unreachable."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings

    async def on_start(self) -> None:
        def report(exc: Exception, delay: float) -> None:
            if isinstance(exc, KafkaAuthenticationError):  # the message has no password
                log.error("Kafka refused the login, %s; retrying in %.1fs", exc, delay)
            else:
                log.warning("Kafka not reachable yet (%s); retrying in %.1fs",
                            type(exc).__name__, delay)

        created = await retry(
            lambda: ensure_topics(self._settings),
            retryable=lambda exc: type(exc).__name__ != "TopicLayoutError",
            on_retry=report, backoff=Backoff(cap=_TOPIC_RETRY_MAX_SECONDS))
        if created:
            log.info("created topics: %s", ", ".join(created))


class _SchemaRegistryService(mode.Service):
    """Registers the output schemas before the batch loop starts (SCHEMA_REGISTRY_URL)."""

    def __init__(self, runtime: WorkerRuntime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runtime = runtime

    async def on_start(self) -> None:
        await self._runtime.register_output_schemas()

    async def on_stop(self) -> None:
        await self._runtime.close_schema_registry()


class _SidecarService(mode.Service):
    def __init__(self, sidecar: Sidecar, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sidecar = sidecar

    async def on_start(self) -> None:
        await self._sidecar.start()

    async def on_stop(self) -> None:
        await self._sidecar.stop()


class _BatchLoopService(mode.Service):
    def __init__(self, runtime: WorkerRuntime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runtime = runtime

    @mode.Service.task
    async def _batches(self) -> None:
        await self._runtime.run_batches()


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
        self._learner = SchemaLearner.from_settings(settings, SchemaCatalog.default())
        self._output_ids_registered = self._learner is None
        catalog = self._learner.catalog if self._learner else SchemaCatalog.default()
        self._catalog = catalog
        topic_types = {
            settings.topic_transactions: RecordType.TRANSACTION,
            settings.topic_payments: RecordType.PAYMENT,
            settings.topic_customer_flags: RecordType.CUSTOMER_FLAGS,
        }
        self.processor = BatchProcessor(
            decoder=InputDecoder(catalog, topic_types),  # the registry's ids when configured
            encoder=OutputEncoder(catalog, settings.output_format.value),
            model=self.current_model,
            challenger=self.challenger,
            observer=self._observe_scores,
            policy=self.policy,
            topics=OutputTopics(settings.topic_risk_scores, settings.topic_interventions,
                                settings.topic_deadletter),
            metrics=self.metrics,
            clock=clock,
            placement=Placement(settings.topic_partitions, settings.kafka_partitioner),
            max_event_skew_seconds=settings.max_event_skew_seconds,
            max_deadlines_per_batch=settings.max_deadlines_per_batch,
            # unset: the documented development key (production requires OUTPUT_ID_KEY)
            output_id_key=(settings.output_id_key.get_secret_value().encode()
                           if settings.output_id_key else DEVELOPMENT_OUTPUT_ID_KEY),
        )
        install_hooks()  # before the app creates its consumer
        self.app = self._create_app()
        self._input_topics = frozenset(settings.input_topics)
        self.intake = Intake(self._input_topics,
                             max_buffered=max(4 * settings.batch_size, _MIN_INTAKE_BUFFER))
        self._ledger = OffsetLedger()  # processed input offsets not committed yet
        self._batch_lock = asyncio.Lock()  # held by a batch, or a commit, in progress
        self._stopping = False
        set_intake(self.app, self.intake)
        set_quiesce_hook(self.app, self._quiesce)
        self.input_topic = self.app.topic(
            *settings.input_topics,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
            acks=False,  # faust never tracks these records: the batch loop commits them
        )
        self.app.topics.add(self.input_topic)  # subscribe (no agent iterates it)
        self.table = self.app.Table(
            TABLE_NAME,
            partitions=settings.topic_partitions,
            key_type=bytes,  # bytes -> the "raw" codec for the changelog, no JSON round trip
            value_type=bytes,
            default=None,
        )
        self.contacts = self.app.Table(  # contact history and care flags (rarely written)
            CONTACTS_TABLE,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            default=None,
        )
        self.rocksdb_memory = RocksDBMemory(  # shared by every database of both tables
            block_cache_bytes=settings.rocksdb_block_cache_bytes,
            memtable_limit_bytes=settings.rocksdb_memtable_limit_bytes,
            write_buffer_bytes=settings.rocksdb_write_buffer_bytes,
            max_write_buffers=settings.rocksdb_max_write_buffers)
        bound = [bound_rocksdb_memory(table, self.rocksdb_memory)  # both tables, always
                 for table in (self.table, self.contacts)]
        self._rocksdb = all(bound)
        self._exactly_once = (
            settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE)
        self._store = TableStore(self.table, self.contacts, settings.topic_partitions,
                                 hold_until_commit=self._exactly_once)
        self.app.task(self._index_stored_customers)
        # faust's signal typing rejects bound async methods that mypy should accept
        self.app.on_partitions_revoked.connect(cast(Any, self._on_partitions_revoked))
        self.predict_backend = WorkerPredictBackend(
            app=self.app,
            table=self.table,
            read_state=self._store.get,  # the partition's own store, pending writes included
            input_topic=settings.topic_transactions,
            partitions=settings.topic_partitions,
            own_url=self.advertised_url,
            api_prefix=settings.api_prefix,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            model=self.current_model,
            bands=self.policy.bands,
            stream_time=self.processor.deadlines.stream_time,
            is_ready=lambda: all(self.readiness().values()),
            partitioner=settings.kafka_partitioner,
            forward_secret=(settings.forward_secret.get_secret_value()
                            if settings.forward_secret else None),
            forward_allowed_hosts=settings.forward_allowed_hosts,
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
            limits=ServerLimits.from_settings(settings),
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
        app = faust.App(
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
            # one placement of keys on every topic of the pipeline, the producers' own
            producer_partitioner=producer_partitioner(s.kafka_partitioner),
            processing_guarantee=s.processing_guarantee.value,
            table_standby_replicas=0,
            # no leader-election topic: nothing here runs on_leader, and the topic, created
            # after the first assignments, shifted the topic groups (transactional ids)
            topic_disable_leader=True,
        )
        set_fetch_max_wait(app, s.kafka_fetch_max_wait_ms)  # faust has no setting for it
        return app

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
        sidecar and heartbeats go on meanwhile; a million customers take a few minutes).
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

    # --- the batch loop ----------------------------------------------------------------------
    async def run_batches(self) -> None:
        """Take micro-batches from the intake and process them, one at a time; commit the
        processed offsets every commit interval, between batches. Runs until the worker
        stops; a batch that fails stops the worker (its records were not committed: the next
        owner reads them again)."""
        settings = self.settings
        within = settings.batch_window_ms / 1000.0
        if self._exactly_once:
            # each commit ends a transaction per input partition, its state included: nothing
            # uncommitted is ever re-applied, so the interval only trades output latency for
            # read_committed consumers against commit overhead
            interval = settings.exactly_once_commit_interval_seconds
        else:
            # after a crash the next owner re-reads what was not committed (the states'
            # input positions make each re-read record a duplicate): a fraction of a second
            # keeps that work, and the repeated outputs it publishes, small
            interval = _AT_LEAST_ONCE_COMMIT_SECONDS
        last_commit = time.monotonic()
        while not self._stopping:
            if self.app.rebalancing:
                await asyncio.sleep(0.05)
                continue
            batch = await self.intake.take(settings.batch_size, within=within,
                                           idle=min(interval, 1.0))
            async with self._batch_lock:
                if self._stopping:
                    break  # not processed, not committed: read again after the restart
                if batch and not self.app.rebalancing:  # else fetched again after the seek
                    try:
                        await self.handle_batch(batch)
                    except Exception as exc:
                        log.exception("a batch failed; stopping the worker (its records "
                                      "are not committed)")
                        await self.app.crash(exc)
                        return
                if self._ledger and time.monotonic() - last_commit >= interval:
                    await self._commit()
                    last_commit = time.monotonic()

    async def _quiesce(self, reason: str) -> None:
        """Before a rebalance revokes partitions ("revoke") or the worker leaves the group
        ("stop"): let the batch in progress finish, commit what was processed, and drop the
        records fetched but not processed (faust seeks back to the committed offsets after
        the rebalance; after a stop the next owner reads them)."""
        if reason == "stop":
            self._stopping = True
        try:
            await asyncio.wait_for(self._batch_lock.acquire(), _FINISH_BATCH_ON_STOP_SECONDS)
        except TimeoutError:
            log.error("the batch in progress did not finish within %.0fs before the %s; "
                      "committing what was processed before it", _FINISH_BATCH_ON_STOP_SECONDS,
                      reason)
            await self._commit()
            return
        try:
            committed = await self._commit()
            dropped = self.intake.clear()
            self._ledger = OffsetLedger()  # anything not committed is read again
            log.info("before the %s: input offsets of %d partitions committed, %d fetched "
                     "records left for their next delivery", reason, committed, dropped)
        finally:
            self._batch_lock.release()

    async def _commit(self) -> int:
        """Commit the processed offsets (exactly_once: commits each input partition's
        transaction with them); returns how many partitions' offsets were committed. A
        commit that fails stays pending and is tried again at the next commit (until then
        its records would be read again after a crash); one refused because a rebalance is
        on is dropped (the rebalance commits, then starts a new ledger)."""
        offsets = self._ledger.pending()
        if not offsets:
            return 0
        if self._exactly_once:
            self._ledger.committed(offsets)
            return await self._commit_transactions(offsets)
        try:
            # faust's commit of explicit offsets: assignment check, the consumer's commit or
            # the transactions' commit, then the tables' and monitor's bookkeeping
            done = await cast(Any, self.app.consumer)._commit_offsets(offsets)
        except Exception as exc:
            self.metrics.offset_commit_failures.inc()
            log.warning("committing input offsets of %d partitions failed (%s); trying again "
                        "at the next commit", len(offsets), type(exc).__name__)
            return 0
        self._ledger.committed(offsets)
        if done:
            return len(offsets)
        log.warning("input offsets of %d partitions not committed (a rebalance); their "
                    "records will be read again", len(offsets))
        return 0

    async def _commit_transactions(self, offsets: dict[Any, int]) -> int:
        """exactly_once: commit the transaction of each input partition on its own (faust
        commits one per partition anyway, one after the other), and only once it has
        committed write the partition's held states to the local store (``TableStore``). A
        transaction not committed because its partition was revoked drops its held states.
        A failed or fenced commit stops the worker: its outcome is unknown and the states
        of this generation can no longer be trusted; the restart resumes from what was
        committed (the local stores hold nothing newer)."""
        by_partition: dict[int, dict[Any, int]] = {}
        for tp, offset in offsets.items():
            by_partition.setdefault(tp.partition, {})[tp] = offset
        consumer = cast(Any, self.app.consumer)
        committed = 0
        for partition, partition_offsets in sorted(by_partition.items()):
            try:
                done = await consumer._commit_offsets(partition_offsets)
            except Exception as exc:
                await self._stop_after_failed_transaction(exc)
                return committed
            if self.app.crashed:  # faust crashes the app when a producer is fenced
                await self._stop_after_failed_transaction(None)
                return committed
            if done:
                self._store.committed(partition)
                committed += len(partition_offsets)
            else:
                self._store.discard(partition)
                log.warning("the transaction of input partition %d was not committed (a "
                            "rebalance revoked it); its records will be read again",
                            partition)
        return committed

    async def _stop_after_failed_transaction(self, exc: Exception | None) -> None:
        self._stopping = True
        for partition in self._store.held_partitions:
            self._store.discard(partition)
        log.error("committing a transaction failed (%s); stopping the worker: the restart "
                  "resumes from the committed offsets and states",
                  type(exc).__name__ if exc is not None else "producer fenced")
        if exc is not None and not self.app.crashed:
            await self.app.crash(exc)

    def _current(self, messages: Sequence[Any]) -> list[Any]:
        """The records this worker may process now: fetched in the current consumer
        generation from a partition it still owns, and not processed already in this
        generation. Records fetched before a rebalance are left alone: their partition may
        belong to another worker now (processing them here would race its changelog writes),
        and if it is still ours faust seeks back to the committed offset, so they come
        again."""
        app = self.app
        generation = app.consumer_generation_id
        assigned = app.consumer.assignment()
        current = [m for m in messages if m.generation_id == generation and m.tp in assigned]
        if len(current) != len(messages):
            log.info("left %d records fetched before a rebalance for their next delivery",
                     len(messages) - len(current))
        seen = self._ledger.seen
        fresh = [m for m in current if not seen(m.tp, m.offset)]
        if len(fresh) != len(current):
            log.info("skipped %d records delivered again in this consumer generation (already "
                     "processed)", len(current) - len(fresh))
        return fresh

    async def handle_batch(self, messages: Sequence[Any]) -> None:
        started = time.perf_counter()
        messages = self._current(messages)
        if not messages:
            return
        records = [InputRecord(m.topic, m.partition, m.offset, m.key, m.value)
                   for m in messages]
        if self._learner is not None:  # the batch's unseen schema ids, before decoding
            await self._learner.learn_patiently(
                (r.value for r in records), on_error=self.metrics.schema_registry_errors.inc,
                max_delay=_TOPIC_RETRY_MAX_SECONDS)
        try:
            result = self.processor.process(records, self._store)
            deliveries = [await self._send(out) for out in result.outputs]
            if deliveries:
                await asyncio.gather(*deliveries)
        except BaseException:
            self._store.abandon_batch()  # none of its states may outlive it
            raise
        changelog = self._store.send_changelog()  # after the outputs: see TableStore
        if changelog:
            await asyncio.gather(*changelog)
        processed = self._ledger.processed
        for message in messages:  # committable from now on
            processed(message.tp, message.offset)
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        self.metrics.last_batch_timestamp.set(time.time())

    async def register_output_schemas(self) -> None:
        """Register the output schemas (with backoff while the registry is unreachable) and
        frame the outputs with the registry's ids."""
        if self._learner is None:
            return
        s = self.settings
        topics = {RecordType.RISK_SCORE: s.topic_risk_scores,
                  RecordType.INTERVENTION: s.topic_interventions,
                  RecordType.DEADLETTER: s.topic_deadletter}
        def report(exc: Exception, delay: float) -> None:
            self.metrics.schema_registry_errors.inc()
            log.warning("%s; retrying in %.1fs", exc, delay)

        client = self._learner.client
        ids = await retry(
            lambda: register_outputs(client, self._catalog, topics),
            # 409: refused as incompatible, a deployment error
            retryable=lambda exc: isinstance(exc, SchemaRegistryError) and exc.status != 409,
            on_retry=report, backoff=Backoff(cap=_TOPIC_RETRY_MAX_SECONDS))
        self.processor.use_encoder(OutputEncoder(self._catalog, s.output_format.value, ids))
        self._output_ids_registered = True
        log.info("output schemas registered: %s", ", ".join(
            f"{t.name} id {i}" for t, i in ids.items()))

    async def close_schema_registry(self) -> None:
        if self._learner is not None:
            await self._learner.client.close()

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
        if self._exactly_once:
            partition = out.source_partition
            return await producer.send(
                out.topic, out.key, out.value, partition, None, None,
                transactional_id=self.transactional_id(partition))
        return await producer.send(out.topic, out.key, out.value, None, None, None)

    def transactional_id(self, partition: int) -> str:
        """faust's transactional id for an input partition, ``<app>-<topic group>-<partition>``,
        read at every send: the assignor numbers the topic groups afresh at every assignment,
        and the number can change (a topic more in the subscription shifts them; a worker that
        kept the first one sent to a producer faust had stopped and crashed)."""
        group = self.app.assignor.group_for_topic(self.settings.topic_transactions)
        return f"{self.app.conf.id}-{group}-{partition}"

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
            # the baseline is the pre-delinquency population's: arrears rows are left out
            current = ~scored.arrears
            self._drift.observe(scored.scores[current], matrix[current])

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
            "output_schemas_registered": self._output_ids_registered,
        }

    def refresh_metrics(self) -> None:
        if self._drift is not None:
            for subject, value in self._drift.psi().items():
                self.metrics.drift_psi.labels(subject).set(value)
            self.metrics.drift_window_rows.set(self._drift.observed)
        checks = self.readiness()
        self.metrics.ready.set(1 if all(checks.values()) else 0)
        self.metrics.intake_buffered.set(len(self.intake))
        if self._rocksdb:
            self.metrics.rocksdb_block_cache.set(self.rocksdb_memory.cache.get_usage())
            self.metrics.rocksdb_memtables.set(
                self.rocksdb_memory.write_buffer_manager.get_usage())
            usage = rocksdb_usage(db for table in (self.table, self.contacts)
                                  for db in open_databases(table))
            self.metrics.rocksdb_table_readers.set(usage.table_readers_bytes)
            self.metrics.rocksdb_pinned.set(usage.pinned_bytes)
            self.metrics.rocksdb_sst_files.set(usage.sst_files_bytes)
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
                _SchemaRegistryService(self),
                ModelWatcher(slots, self.settings.model_watch_interval_seconds, self.metrics),
                _BatchLoopService(self)]

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        Path(self.settings.state_dir).mkdir(parents=True, exist_ok=True)
        # before joining the consumer group: a first compilation of the feature kernels takes
        # tens of seconds (then numba's cache, NUMBA_CACHE_DIR, has them), which must not
        # stall a batch
        log.info("feature kernels ready in %.1f s", kernels.warm_up())
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

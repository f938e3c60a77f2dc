"""The audit sink process: consume both output topics and the CRM's outcomes, write each
batch to PostgreSQL in one transaction, then commit the batch's Kafka offsets.

At-least-once into an idempotent store: offsets are committed only after the database commit,
so a crash at any point re-delivers records the database may already hold, and ``ON CONFLICT
DO NOTHING`` skips them. While the database is down the same batch is retried with backoff;
nothing is consumed past it and its offsets are never committed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from aiokafka.errors import KafkaError

from stream_app.backoff import Backoff, sleep_unless_stopped
from stream_app.schema_registry import SchemaLearner
from stream_app.serializers import SchemaCatalog
from stream_app.settings import Settings
from stream_app.sidecar import ApiConfig, HealthSource, ServerLimits, Sidecar

from ._batch import INTERVENTIONS, OUTCOMES, SCORES, TABLES, Batch, Table, build_batch
from ._consumer import commit_offsets, start_consumer
from ._database import wait_for_schema
from ._errors import SinkStartupError
from ._metrics import SinkMetrics
from ._rows import RowDecoder
from ._writer import AuditWriter

__all__ = ["AuditSink", "run_until_signalled"]

log = logging.getLogger(__name__)

_POLL_TIMEOUT_MS = 500  # how quickly the loop notices a shutdown signal
_PROBE_INTERVAL_SECONDS = 5.0  # database probe while no records arrive
_RETRY_CAP_SECONDS = 10.0


class AuditSink:
    def __init__(self, settings: Settings, *, metrics: SinkMetrics | None = None) -> None:
        if settings.database_url is None:
            raise SinkStartupError("DATABASE_URL is not set")
        self.settings = settings
        self.metrics = metrics or SinkMetrics()
        self._dsn = settings.database_url.get_secret_value()
        # with a schema registry the outputs carry its ids: learn them before decoding
        self._learner = SchemaLearner.from_settings(settings, SchemaCatalog.default())
        self._decoder = RowDecoder(self._learner.catalog if self._learner
                                   else SchemaCatalog.default())
        self._tables: dict[str, Table] = {settings.topic_risk_scores: SCORES,
                                          settings.topic_interventions: INTERVENTIONS,
                                          settings.topic_outcomes: OUTCOMES}
        self._writer: AuditWriter | None = None
        self._consumer: Any = None  # AIOKafkaConsumer once started
        self._database_up = False
        self._last_probe = 0.0
        self.sidecar = Sidecar(
            metrics=self.metrics,
            health=HealthSource(model_version=lambda: None, readiness=self.readiness,
                                refresh_metrics=self.refresh_metrics),
            api_prefix=settings.api_prefix,
            host=settings.sidecar_host,
            port=settings.sidecar_port,
            config=ApiConfig.from_settings(settings),  # the keys of /metrics
            limits=ServerLimits.from_settings(settings),
            metric_namespace="predelinq_sink",
        )

    # --- health ------------------------------------------------------------------------------
    def _assigned(self) -> int:
        try:
            return len(self._consumer.assignment()) if self._consumer is not None else 0
        except Exception:  # the consumer is starting or stopping
            return 0

    def readiness(self) -> dict[str, bool]:
        return {"database": self._database_up, "partitions_assigned": self._assigned() > 0}

    def refresh_metrics(self) -> None:
        self.metrics.assigned_partitions.set(self._assigned())

    def _set_database_up(self, up: bool) -> None:
        self._database_up = up
        self.metrics.database_up.set(1 if up else 0)

    # --- running -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set. Raises :class:`SinkStartupError` when it cannot start."""
        try:
            await self.sidecar.start()
        except OSError as exc:  # port in use, address not available
            raise SinkStartupError(f"cannot listen on {self.settings.sidecar_host}:"
                                   f"{self.settings.sidecar_port}: {exc.strerror}") from None
        try:
            if not await wait_for_schema(self._dsn, stop, Backoff(cap=_RETRY_CAP_SECONDS)):
                return
            self._set_database_up(True)
            self._consumer = await start_consumer(self.settings, stop,
                                                  Backoff(cap=_RETRY_CAP_SECONDS))
            if self._consumer is None:
                return
            log.info("audit sink consuming %s", ", ".join(self._tables))
            await self._loop(stop)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()  # no auto-commit: an unwritten batch stays uncommitted
            self._consumer = None
        await self._drop_writer()
        if self._learner is not None:
            await self._learner.client.close()
        await self.sidecar.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                records = await self._consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS,
                                                       max_records=self.settings.sink_batch_size)
            except KafkaError as exc:  # coordinator or fetch error; the client recovers
                log.warning("consuming failed (%s); retrying", type(exc).__name__)
                await sleep_unless_stopped(1.0, stop)
                continue
            if not records:
                await self._probe()
                continue
            if self._learner is not None:
                await self._learner.learn_patiently(
                    (m.value for messages in records.values() for m in messages),
                    max_delay=_RETRY_CAP_SECONDS)
            batch = build_batch(records, self._tables, self._decoder)
            self._count_consumed(batch)
            if batch.rows and not await self._write(batch, stop):
                log.info("stopping: the unwritten batch's offsets are not committed")
                return
            if not await commit_offsets(self._consumer, batch.offsets):
                self.metrics.offset_commit_failures.inc()

    def _count_consumed(self, batch: Batch) -> None:
        self.metrics.batch_records.observe(batch.records)
        for table in TABLES:
            skipped = sum(n for (t, _), n in batch.skipped.items() if t == table)
            self.metrics.records.labels(table).inc(len(batch.rows_of(table)) + skipped)
        for (table, reason), count in batch.skipped.items():
            self.metrics.skipped.labels(table, reason).inc(count)

    # --- database ----------------------------------------------------------------------------
    async def _write(self, batch: Batch, stop: asyncio.Event) -> bool:
        """Write the batch, retrying the same rows with backoff until it commits; False when
        ``stop`` was set before it could."""
        backoff = Backoff(cap=_RETRY_CAP_SECONDS)
        while True:
            started = time.perf_counter()
            try:
                if self._writer is None:
                    self._writer = await AuditWriter.connect(self._dsn)
                result = await self._writer.write(batch.scores, batch.interventions,
                                                  batch.outcomes)
            except Exception as exc:  # any failure: the whole transaction rolled back
                self._failed(exc)
                await self._drop_writer()
                delay = backoff.next_delay()
                log.warning("batch not written (%d rows; %s); retrying in %.1fs",
                            batch.rows, _describe(exc), delay)
                if await sleep_unless_stopped(delay, stop):
                    return False
                continue
            self.metrics.batch_duration.observe(time.perf_counter() - started)
            self.metrics.last_commit_timestamp.set(time.time())
            self._set_database_up(True)
            for table, count in result.inserted.items():
                self.metrics.rows.labels(table).inc(count)
            for table, count in result.duplicates.items():
                self.metrics.duplicates.labels(table).inc(count)
            return True

    def _failed(self, exc: BaseException) -> None:
        self._set_database_up(False)
        self.metrics.retries.inc()
        # asyncpg's data errors may quote values (personal data): details only at DEBUG
        log.debug("database attempt failed", exc_info=exc)

    async def _probe(self) -> None:
        """While idle, check the database now and then so that /ready stays truthful."""
        now = time.monotonic()
        if now - self._last_probe < _PROBE_INTERVAL_SECONDS:
            return
        self._last_probe = now
        try:
            if self._writer is None:
                self._writer = await AuditWriter.connect(self._dsn)
            await self._writer.ping()
        except Exception as exc:  # unreachable, restarting, connection lost...
            if self._database_up:
                log.warning("PostgreSQL probe failed (%s)", _describe(exc))
            self._set_database_up(False)
            await self._drop_writer()
            return
        self._set_database_up(True)

    async def _drop_writer(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None


def _describe(exc: BaseException) -> str:
    """Class and SQLSTATE of an error, never its message (it may quote row values)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}, SQLSTATE {sqlstate}" if sqlstate else type(exc).__name__


async def run_until_signalled(settings: Settings, *, metrics: SinkMetrics | None = None) -> None:
    """Run the sink until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await AuditSink(settings, metrics=metrics).run(stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

"""The audit sink: risk scores, interventions and their outcomes from Kafka into PostgreSQL,
idempotently.

``predelinq sink`` runs :func:`run_until_signalled`. Each consumed batch becomes rows
(:class:`RowDecoder`), written to the tables in one transaction (:class:`AuditWriter`); the
Kafka offsets are committed only after the database commit. See ``docs/audit.md``.
"""

from stream_app.backoff import Backoff, sleep_unless_stopped

from ._batch import INTERVENTIONS, OUTCOMES, SCORES, TABLES, Batch, Table, build_batch
from ._consumer import commit_offsets, consumer_group, start_consumer
from ._database import wait_for_schema
from ._errors import PendingMigrationsError, SinkStartupError
from ._metrics import SinkMetrics
from ._rows import InterventionRow, OutcomeRow, RowDecoder, RowError, ScoreRow, schema_id_of
from ._runtime import AuditSink, run_until_signalled
from ._writer import AuditWriter, WriteResult

__all__ = [
    "INTERVENTIONS",
    "OUTCOMES",
    "SCORES",
    "TABLES",
    "AuditSink",
    "AuditWriter",
    "Backoff",
    "Batch",
    "InterventionRow",
    "OutcomeRow",
    "PendingMigrationsError",
    "RowDecoder",
    "RowError",
    "ScoreRow",
    "SinkMetrics",
    "SinkStartupError",
    "Table",
    "WriteResult",
    "build_batch",
    "commit_offsets",
    "consumer_group",
    "run_until_signalled",
    "schema_id_of",
    "sleep_unless_stopped",
    "start_consumer",
    "wait_for_schema",
]

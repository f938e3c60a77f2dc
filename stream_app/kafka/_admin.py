"""Topic administration: create the contract's topics and check co-partitioning."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from stream_app.settings import Settings

from ._clients import aiokafka_options
from ._errors import authentication_failure

__all__ = [
    "CONTACTS_TABLE",
    "STATE_TABLE",
    "TopicLayoutError",
    "TopicSpec",
    "changelog_topic",
    "ensure_topics",
    "topic_specs",
]

STATE_TABLE = "customer-state"  # the worker's faust tables, named here for their changelogs
CONTACTS_TABLE = "customer-contacts"


class TopicLayoutError(RuntimeError):
    """Existing topics do not have the layout the worker needs (e.g. partition counts)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    copartitioned: bool  # must have exactly ``partitions`` partitions


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic faust keeps for a table of this app (``<app>-<table>-changelog``)."""
    return f"{settings.app_name}-{table}-changelog"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the worker needs. The tables' changelog topics are among them (compacted,
    co-partitioned with the inputs): created before the worker joins its consumer group,
    they are in the consumer's metadata when the group forms. Left to faust, a changelog
    created while the group forms can stay unassigned until the next metadata refresh
    (5 minutes), and with it the recovery of that table."""
    p, r = settings.topic_partitions, settings.topic_replication_factor
    week_ms = str(7 * 86_400_000)
    month_ms = str(35 * 86_400_000)
    inputs = {"retention.ms": month_ms}
    outputs = {"retention.ms": week_ms}
    return [
        TopicSpec(settings.topic_transactions, p, r, inputs, True),
        TopicSpec(settings.topic_payments, p, r, inputs, True),
        TopicSpec(settings.topic_customer_flags, p, r, inputs, True),
        TopicSpec(settings.topic_risk_scores, p, r, outputs, False),
        TopicSpec(settings.topic_interventions, p, r, {"retention.ms": month_ms}, False),
        TopicSpec(settings.topic_deadletter, p, r, {"retention.ms": month_ms}, False),
        # the CRM's outcomes (the audit sink reads them): created with the rest, so a sink
        # started before the CRM's first outcome is assigned its partitions at once
        TopicSpec(settings.topic_outcomes, p, r, {"retention.ms": month_ms}, False),
        *(TopicSpec(changelog_topic(settings, table), p, r, {"cleanup.policy": "compact"}, True)
          for table in (STATE_TABLE, CONTACTS_TABLE)),
    ]


async def ensure_topics(settings: Settings, *, create_missing: bool = True) -> list[str]:
    """Create missing topics; fail when an input topic's partition count breaks
    co-partitioning. Returns the names of the topics created. Raises
    :class:`KafkaAuthenticationError` when the broker refuses the SASL login."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=30_000)
    try:
        await admin.start()
    except KafkaConnectionError:
        refused = await authentication_failure(settings)  # say so when it is the login
        if refused is not None:
            raise refused from None
        raise
    try:
        specs = topic_specs(settings)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing and create_missing:
            await admin.create_topics([
                NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                for s in missing
            ])
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            wrong = [f"{s.name} has {counts.get(s.name)} partitions"
                     for s in present if s.copartitioned and counts.get(s.name) != s.partitions]
            if wrong:
                raise TopicLayoutError(
                    "input and changelog topics must all have TOPIC_PARTITIONS="
                    f"{settings.topic_partitions} partitions (co-partitioning by customer): "
                    + "; ".join(wrong))
        return [s.name for s in missing] if create_missing else []
    finally:
        await admin.close()

"""Topic administration against a real Apache Kafka broker: every topic the worker needs,
the tables' changelogs included, exists before the worker joins its group."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream_app.kafka import (
    CONTACTS_TABLE,
    STATE_TABLE,
    TopicLayoutError,
    changelog_topic,
    ensure_topics,
)
from stream_app.settings import Settings


def _settings(bootstrap: str, partitions: int = 3) -> Settings:
    run = f"admin-{uuid.uuid4().hex[:8]}"
    return Settings(app_name=run, kafka_bootstrap_servers=bootstrap,  # type: ignore[arg-type]
                    topic_partitions=partitions, topic_replication_factor=1,
                    topic_transactions=f"{run}.tx", topic_payments=f"{run}.pay",
                    topic_customer_flags=f"{run}.flags", topic_risk_scores=f"{run}.scores",
                    topic_interventions=f"{run}.interventions",
                    topic_deadletter=f"{run}.dead", topic_outcomes=f"{run}.outcomes")


async def _describe(bootstrap: str, names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Partition counts, and each topic's cleanup.policy."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    finally:
        await admin.close()
    policies: dict[str, str] = {}
    for response in configs:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            policies[name] = next(e[1] for e in entries if e[0] == "cleanup.policy")
    return {d["topic"]: len(d["partitions"]) for d in described}, policies


def test_changelog_topics_are_created_compacted_and_copartitioned(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    settings = _settings(bootstrap)
    changelogs = [changelog_topic(settings, STATE_TABLE), changelog_topic(settings, CONTACTS_TABLE)]
    assert changelogs == [f"{settings.app_name}-customer-state-changelog",
                          f"{settings.app_name}-customer-contacts-changelog"]

    created = asyncio.run(ensure_topics(settings))
    assert set(changelogs) <= set(created)
    assert settings.topic_outcomes in created  # the CRM's outcomes, read by the audit sink
    names = [*changelogs, settings.topic_risk_scores, settings.topic_outcomes]
    counts, policies = asyncio.run(_describe(bootstrap, names))
    assert counts == dict.fromkeys(names, 3)
    assert policies[changelogs[0]] == policies[changelogs[1]] == "compact"
    assert policies[settings.topic_risk_scores] == policies[settings.topic_outcomes] == "delete"
    assert asyncio.run(ensure_topics(settings)) == []  # nothing left to create


def test_a_changelog_with_another_partition_count_is_refused(kafka_broker: Any) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    settings = _settings(bootstrap)
    wrong = changelog_topic(settings, STATE_TABLE)

    async def create_wrong() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(wrong, 5, 1)])
            for _ in range(100):  # until the broker's metadata lists it
                if wrong in await admin.list_topics():
                    return
                await asyncio.sleep(0.1)
        finally:
            await admin.close()

    asyncio.run(create_wrong())
    with pytest.raises(TopicLayoutError, match=f"{wrong} has 5 partitions"):
        asyncio.run(ensure_topics(settings))

"""Kafka plumbing: client options (PLAINTEXT/SSL/SASL), topic administration, publishing
simulated events and a consumer group's lag."""

from ._admin import (
    CONTACTS_TABLE,
    STATE_TABLE,
    TopicLayoutError,
    TopicSpec,
    changelog_topic,
    ensure_topics,
    topic_specs,
)
from ._clients import aiokafka_options, faust_broker_urls, faust_credentials, ssl_context
from ._errors import KafkaAuthenticationError, authentication_failure
from ._lag import group_lag
from ._publish import RECORD_TYPES, encode_record, publish_events
from ._redrive import RedriveReport, redrive_dead_letters

__all__ = [
    "CONTACTS_TABLE",
    "RECORD_TYPES",
    "STATE_TABLE",
    "KafkaAuthenticationError",
    "RedriveReport",
    "TopicLayoutError",
    "TopicSpec",
    "aiokafka_options",
    "authentication_failure",
    "changelog_topic",
    "encode_record",
    "ensure_topics",
    "faust_broker_urls",
    "faust_credentials",
    "group_lag",
    "publish_events",
    "redrive_dead_letters",
    "ssl_context",
    "topic_specs",
]

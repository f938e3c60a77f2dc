"""Kafka plumbing: client options (PLAINTEXT/SSL/SASL) and topic administration."""

from ._admin import TopicLayoutError, TopicSpec, ensure_topics, topic_specs
from ._clients import aiokafka_options, faust_broker_urls, faust_credentials, ssl_context
from ._publish import publish_events

__all__ = [
    "TopicLayoutError",
    "TopicSpec",
    "aiokafka_options",
    "ensure_topics",
    "faust_broker_urls",
    "faust_credentials",
    "publish_events",
    "ssl_context",
    "topic_specs",
]

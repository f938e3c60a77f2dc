"""Broker launchers: real Apache Kafka from Maven Central (one node, a three-node cluster, SASL;
tests, bench) and Tansu (demo)."""

from ._cluster import KafkaCluster
from ._metadata import (
    alive_broker_ids,
    answers_metadata,
    wait_for_brokers,
    wait_for_metadata,
)
from ._ports import free_port, wait_for_port
from ._process import ManagedProcess, terminate
from .apache_kafka import (
    DEFAULT_KAFKA_VERSION,
    SASL_MECHANISMS,
    BrokerStartError,
    KafkaBroker,
    java_tool_command,
    resolve_kafka_jars,
)
from .schema_registry import SchemaRegistryServer, resolve_schema_registry
from .tansu import TansuBroker, TansuStartError

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "SASL_MECHANISMS",
    "BrokerStartError",
    "KafkaBroker",
    "KafkaCluster",
    "ManagedProcess",
    "SchemaRegistryServer",
    "TansuBroker",
    "TansuStartError",
    "alive_broker_ids",
    "answers_metadata",
    "free_port",
    "java_tool_command",
    "resolve_kafka_jars",
    "resolve_schema_registry",
    "terminate",
    "wait_for_brokers",
    "wait_for_metadata",
    "wait_for_port",
]

"""Broker launchers: real Apache Kafka from Maven Central (tests, bench) and Tansu (demo)."""

from ._metadata import answers_metadata, wait_for_metadata
from ._ports import free_port, wait_for_port
from ._process import ManagedProcess, terminate
from .apache_kafka import (
    DEFAULT_KAFKA_VERSION,
    BrokerStartError,
    KafkaBroker,
    resolve_kafka_jars,
)
from .tansu import TansuBroker, TansuStartError

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "BrokerStartError",
    "KafkaBroker",
    "ManagedProcess",
    "TansuBroker",
    "TansuStartError",
    "answers_metadata",
    "free_port",
    "resolve_kafka_jars",
    "terminate",
    "wait_for_metadata",
    "wait_for_port",
]

"""Shared fixtures: a small trained model, a real Apache Kafka broker, a real PostgreSQL.

Kafka is started once per session by the project's launcher (jars from Maven Central, KRaft
storage in a temporary directory, logs to a file). PostgreSQL comes from the environment
(``PREDELINQ_TEST_DATABASE_URL``, set by ``scripts/run-tests.sh`` which starts a throwaway
cluster): tests that need it fail with a clear message when it is missing, never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.models import TrainedFixture, train_small_model


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedFixture:
    return train_small_model(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def second_model(trained: TrainedFixture) -> TrainedFixture:
    """A second, different version in the same registry (champion still on ``trained``)."""
    from model_registry import set_alias

    fixture = train_small_model(trained.registry, customers=500, days=240, iterations=30, seed=8)
    set_alias(trained.registry, "champion", trained.path.name)
    return fixture


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[object]:
    from stream_app.brokers import KafkaBroker

    external = os.environ.get("PREDELINQ_TEST_KAFKA")
    if external:  # an already running broker (e.g. while developing)
        yield type("External", (), {"bootstrap_servers": external})()
        return
    broker = KafkaBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.cleanup()


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[object]:
    """A real schema registry (Apicurio, Confluent-compatible API at ``.url``), in memory."""
    from stream_app.brokers.schema_registry import SchemaRegistryServer

    with SchemaRegistryServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("PREDELINQ_TEST_DATABASE_URL")
    if not url:
        pytest.fail("PREDELINQ_TEST_DATABASE_URL is not set: run the tests with "
                    "`make test` (scripts/run-tests.sh starts a throwaway PostgreSQL)")
    return url


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]

"""The schema registry support against a real registry (Apicurio, Confluent-compatible API),
with confluent-kafka's own AvroSerializer and AvroDeserializer on the other side."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentRegistry
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from stream_app.events import RecordType
from stream_app.schema_registry import (
    SchemaLearner,
    SchemaRegistryClient,
    SchemaRegistryError,
    register_outputs,
)
from stream_app.serializers import (
    IncompatibleSchemaError,
    InputDecoder,
    OutputEncoder,
    SchemaCatalog,
    UnknownSchemaIdError,
    default_schemas_dir,
)
from tests.support.outputs import intervention, risk_score
from tests.support.replay import simulated

pytestmark = [pytest.mark.integration]


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _topic(name: str) -> str:
    return f"sr-{uuid.uuid4().hex[:8]}.{name}"


def _transaction() -> dict[str, Any]:
    record = next(r for r in simulated(customers=3, days=10, seed=4) if r["type"] == "transaction")
    return {k: v for k, v in record.items() if k != "type"}


def _with_client(url: str, work: Any) -> Any:
    async def go() -> Any:
        client = SchemaRegistryClient(url)
        try:
            return await work(client)
        finally:
            await client.close()
    return _run(go())


def test_outputs_are_registered_backward_compatible_and_decoded_by_confluent_kafka(
        schema_registry: Any) -> None:
    catalog = SchemaCatalog(default_schemas_dir())
    topics = {RecordType.RISK_SCORE: _topic("risk.scores.v1"),
              RecordType.INTERVENTION: _topic("risk.interventions.v1")}

    async def register(client: SchemaRegistryClient) -> dict[RecordType, int]:
        return await register_outputs(client, catalog, topics)

    ids = _with_client(schema_registry.url, register)
    assert _with_client(schema_registry.url, register) == ids  # a restart: the same ids
    confluent = ConfluentRegistry({"url": schema_registry.url})
    for record_type, topic in topics.items():
        versions = confluent.get_versions(f"{topic}-value")
        assert len(versions) == 3  # every revision of the contract, in order
        latest = confluent.get_latest_version(f"{topic}-value")
        assert latest.schema_id == ids[record_type]
        assert confluent.get_compatibility(f"{topic}-value") == "BACKWARD"
    # outputs framed with the registry's ids, read by confluent-kafka's deserializer
    encoder = OutputEncoder(catalog, "avro", ids)
    score, decision = risk_score(1), intervention(2)
    score_bytes = encoder.encode(RecordType.RISK_SCORE, score.to_record())
    assert int.from_bytes(score_bytes[1:5], "big") == ids[RecordType.RISK_SCORE]
    read = AvroDeserializer(confluent)(score_bytes, SerializationContext(
        topics[RecordType.RISK_SCORE], MessageField.VALUE))
    assert read["event_id"] == score.event_id
    assert read["score"] == score.score
    read = AvroDeserializer(confluent)(
        encoder.encode(RecordType.INTERVENTION, decision.to_record()),
        SerializationContext(topics[RecordType.INTERVENTION], MessageField.VALUE))
    assert read["intervention_id"] == decision.intervention_id


def test_the_registry_refuses_an_incompatible_revision(schema_registry: Any) -> None:
    catalog = SchemaCatalog(default_schemas_dir())
    subject = f"{_topic('risk.scores.v1')}-value"
    newest = copy.deepcopy(catalog.latest(RecordType.RISK_SCORE).definition)
    newest["fields"].append({"name": "required_without_default", "type": "string"})

    async def go(client: SchemaRegistryClient) -> None:
        await client.set_compatibility(subject, "BACKWARD")
        await client.register(subject, catalog.latest(RecordType.RISK_SCORE).definition)
        await client.register(subject, newest)

    with pytest.raises(SchemaRegistryError) as refused:
        _with_client(schema_registry.url, go)
    assert refused.value.status == 409


def test_input_ids_are_looked_up_once_and_confluent_serializer_records_decode(
        schema_registry: Any) -> None:
    confluent = ConfluentRegistry({"url": schema_registry.url})
    topic = _topic("bank.transactions.v1")
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    assert catalog.by_id(1) is None  # local ids mean nothing with a registry
    contract = catalog.latest(RecordType.TRANSACTION).definition
    # a producer's newer schema: one more optional field (compatible with the contract)
    newer = copy.deepcopy(contract)
    newer["fields"].append({"name": "terminal_id", "type": ["null", "string"], "default": None})
    # a broken one: `currency` removed (the contract requires it, no default)
    broken = copy.deepcopy(contract)
    broken["fields"] = [f for f in broken["fields"] if f["name"] != "currency"]
    record = _transaction()

    def serialize(schema: dict[str, Any], value: dict[str, Any], subject_topic: str) -> bytes:
        import json
        serializer = AvroSerializer(confluent, json.dumps(schema),
                                    conf={"auto.register.schemas": True})
        return serializer(value, SerializationContext(subject_topic, MessageField.VALUE))

    good = serialize(newer, {**record, "terminal_id": "T-9"}, topic)
    bad = serialize(broken, {k: v for k, v in record.items() if k != "currency"},
                    _topic("other"))
    unknown = b"\x00" + (2**31 - 7).to_bytes(4, "big") + good[5:]
    now = [0.0]

    async def learn(client: SchemaRegistryClient) -> tuple[SchemaLearner, list[int]]:
        learner = SchemaLearner(client, catalog, unknown_ttl_seconds=60, clock=lambda: now[0])
        counts = [await learner.learn([good, bad, unknown, good, None, b"{}"])]
        counts.append(await learner.learn([good, bad, unknown]))  # cached, remembered
        now[0] = 61.0
        counts.append(await learner.learn([unknown]))  # asked again after the TTL
        return learner, counts

    learner, counts = _with_client(schema_registry.url, learn)
    assert counts == [2, 0, 0]
    assert learner.lookups == 4  # good, bad, unknown, then unknown again
    decoder = InputDecoder(catalog, {topic: RecordType.TRANSACTION})
    event = decoder.decode(topic, good)  # written by confluent-kafka, read with the contract
    assert event.event_id == record["event_id"]
    assert event.amount_minor == record["amount_minor"]
    with pytest.raises(IncompatibleSchemaError, match="cannot be read with the contract"):
        decoder.decode(topic, bad)
    with pytest.raises(UnknownSchemaIdError):
        decoder.decode(topic, unknown)


def test_an_unreachable_registry_is_an_error_not_an_unknown_id() -> None:
    catalog = SchemaCatalog(default_schemas_dir())

    async def go() -> None:
        client = SchemaRegistryClient("http://127.0.0.1:9/apis/ccompat/v7", timeout_seconds=2)
        try:
            await SchemaLearner(client, catalog).learn([b"\x00\x00\x00\x03\x00" + b"x"])
        finally:
            await client.close()

    with pytest.raises(SchemaRegistryError, match="no usable answer"):
        _run(go())


@pytest.fixture(scope="module")
def registry_gateway(schema_registry: Any) -> Any:
    """The registry behind HTTPS (a private CA) and basic auth, as banks expose it."""
    from tests.support.tls_gateway import TlsBasicAuthGateway

    with TlsBasicAuthGateway(schema_registry.url, username="predelinq",
                             password="s3cret-Pa55") as gateway:
        yield gateway


def test_settings_reach_a_registry_behind_tls_and_basic_auth(registry_gateway: Any,
                                                            monkeypatch: Any) -> None:
    from stream_app.settings import Settings

    monkeypatch.setenv("SCHEMA_REGISTRY_URL", registry_gateway.url)
    monkeypatch.setenv("SCHEMA_REGISTRY_USERNAME", registry_gateway.username)
    monkeypatch.setenv("SCHEMA_REGISTRY_PASSWORD", registry_gateway.password)
    monkeypatch.setenv("SCHEMA_REGISTRY_CA_FILE", str(registry_gateway.ca_file))
    client = SchemaRegistryClient.from_settings(Settings())
    assert client is not None
    catalog = SchemaCatalog(default_schemas_dir())
    topics = {RecordType.RISK_SCORE: _topic("risk.scores.v1")}

    async def go() -> tuple[dict[RecordType, int], int]:
        try:
            ids = await register_outputs(client, catalog, topics)
            learner = SchemaLearner(client, catalog.readers_only())
            framed = b"\x00" + ids[RecordType.RISK_SCORE].to_bytes(4, "big") + b"\x02"
            return ids, await learner.learn([framed])
        finally:
            await client.close()

    ids, learned = _run(go())
    assert learned == 1
    # confluent-kafka through the same gateway sees what predelinq registered
    confluent = ConfluentRegistry({
        "url": registry_gateway.url, "ssl.ca.location": str(registry_gateway.ca_file),
        "basic.auth.user.info": f"{registry_gateway.username}:{registry_gateway.password}"})
    latest = confluent.get_latest_version(f"{topics[RecordType.RISK_SCORE]}-value")
    assert latest.schema_id == ids[RecordType.RISK_SCORE]


def test_a_wrong_password_is_a_401_that_does_not_echo_the_credentials(
        registry_gateway: Any) -> None:
    async def go() -> None:
        client = SchemaRegistryClient(registry_gateway.url, username=registry_gateway.username,
                                      password="not-the-password",
                                      ca_file=str(registry_gateway.ca_file))
        try:
            await client.schema_by_id(1)
        finally:
            await client.close()

    with pytest.raises(SchemaRegistryError) as refused:
        _run(go())
    assert refused.value.status == 401
    assert "not-the-password" not in str(refused.value)


def test_a_certificate_from_an_unknown_ca_is_refused(registry_gateway: Any) -> None:
    async def go() -> None:
        # no SCHEMA_REGISTRY_CA_FILE: the system CAs do not know the bank's private CA
        client = SchemaRegistryClient(registry_gateway.url, username=registry_gateway.username,
                                      password=registry_gateway.password)
        try:
            await client.schema_by_id(1)
        finally:
            await client.close()

    with pytest.raises(SchemaRegistryError, match="ClientConnectorCertificateError"):
        _run(go())

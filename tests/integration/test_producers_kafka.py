"""Upstream producers as banks run them, on Apache Kafka: librdkafka (confluent-kafka) with its
default partitioner and with murmur2, mixed on the two input topics, and the Java client's
console producer; the worker's exactly-once outputs read by a librdkafka consumer with
``isolation.level=read_committed``.

Every customer's last score equals the offline replay of the records the worker applied
(``features_sha256``), and a record produced with another partitioner than
``KAFKA_PARTITIONER`` is in the dead-letter topic with reason ``wrong_partition``, counted by
the metric: never applied to another partition's state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from stream_app.brokers import java_tool_command
from stream_app.events import RecordType
from stream_app.kafka import encode_record
from stream_app.partitioning import Partitioner, partition_for
from stream_app.processing import TIMER_TOPIC
from stream_app.serializers import AvroCodec, OutputDecoder, SchemaCatalog
from tests.support.models import TrainedFixture
from tests.support.replay import assert_last_scores_match_replay, simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4
SETTING_OF = {"transaction": "TOPIC_TRANSACTIONS", "payment": "TOPIC_PAYMENTS"}
DECODER = OutputDecoder(SchemaCatalog.default())


def _inputs(customers: int, seed: int) -> list[dict[str, Any]]:
    return [r for r in simulated(customers=customers, days=60, seed=seed)
            if r["type"] in SETTING_OF]


def _produce_librdkafka(bootstrap: str, records: list[dict[str, Any]], topics: dict[str, str],
                        partitioner_of: dict[str, str]) -> None:
    """One confluent-kafka producer per input topic, with the librdkafka ``partitioner`` given
    for it (absent: the client's default, ``consistent_random``), idempotent, acks=all."""
    codec = AvroCodec(SchemaCatalog.default())
    producers = {}
    for kind, setting in SETTING_OF.items():
        config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5}
        if kind in partitioner_of:
            config["partitioner"] = partitioner_of[kind]
        producers[setting] = Producer(config)
    failures: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for record in records:
        setting = SETTING_OF[record["type"]]
        producers[setting].produce(topics[setting], encode_record(codec, record, "avro"),
                                   key=record["customer_id"].encode(), on_delivery=delivered)
        producers[setting].poll(0)
    for producer in producers.values():
        assert producer.flush(60) == 0
    assert not failures, failures[:3]


def _read(bootstrap: str, topics: dict[str, RecordType], done: Any, timeout: float = 240.0,
          settle: float = 3.0) -> dict[str, list[dict[str, Any]]]:
    """Decoded records of ``topics`` read by a librdkafka consumer with
    isolation.level=read_committed until ``done(records)``, then ``settle`` seconds more."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"crm-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe(list(topics))
    records: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(num_messages=5_000, timeout=0.25):
                if message.error() is None:
                    records[message.topic()].append(
                        DECODER.decode(topics[message.topic()], message.value()))
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        consumer.close()
    return records


def _worker_env(kafka: Any, trained: TrainedFixture, topics: dict[str, str],
                **extra: str) -> dict[str, str]:
    return {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "MODEL_PATH": str(trained.path), "TOPIC_PARTITIONS": str(PARTITIONS),
            "ENABLE_INTERVENTIONS": "false", **extra}


def _event_scores(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in scores if s["trigger_topic"] != TIMER_TOPIC]


def test_librdkafka_default_partitioner_with_crc32_configured_exactly_once(
        kafka_broker: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    records = _inputs(customers=120, seed=41)
    topics = unique_topics("rdk")
    # librdkafka's name for it, as a platform team would copy it from the producers' config
    env = _worker_env(kafka_broker, trained, topics, KAFKA_PARTITIONER="consistent_random",
                      PROCESSING_GUARANTEE="exactly_once")
    scores_topic, dead_topic = topics["TOPIC_RISK_SCORES"], topics["TOPIC_DEADLETTER"]
    outputs = {scores_topic: RecordType.RISK_SCORE, dead_topic: RecordType.DEADLETTER}
    with WorkerProcess(env, tmp_path) as worker:
        worker.wait_ready()
        _produce_librdkafka(kafka_broker.bootstrap_servers, records, topics, {})
        got = _read(kafka_broker.bootstrap_servers, outputs,
                    lambda v: len(_event_scores(v[scores_topic])) >= len(records))
        metrics = worker.metrics()
    scores = _event_scores(got[scores_topic])
    assert got[dead_topic] == []
    assert len(scores) == len(records)  # exactly once: no event scored twice
    assert len({s["customer_id"] for s in scores}) == 120
    assert_last_scores_match_replay(records, scores)  # 120 of 120 customers
    assert not any(k.startswith("predelinq_dead_letters_total") for k in metrics if metrics[k])


def test_mixed_partitioners_are_dead_lettered_never_split(
        kafka_broker: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    # transactions with librdkafka's default (crc32), payments with murmur2 (as aiokafka or
    # Java): the worker expects murmur2, so the transactions whose hashes differ are misplaced
    records = _inputs(customers=120, seed=42)
    topics = unique_topics("mixed")
    misplaced = {r["event_id"] for r in records if r["type"] == "transaction" and
                 partition_for(r["customer_id"].encode(), PARTITIONS, Partitioner.CRC32)
                 != partition_for(r["customer_id"].encode(), PARTITIONS, Partitioner.MURMUR2)}
    kept = [r for r in records if r["event_id"] not in misplaced]
    assert 0 < len(misplaced) < len(records)
    scores_topic, dead_topic = topics["TOPIC_RISK_SCORES"], topics["TOPIC_DEADLETTER"]
    outputs = {scores_topic: RecordType.RISK_SCORE, dead_topic: RecordType.DEADLETTER}
    with WorkerProcess(_worker_env(kafka_broker, trained, topics), tmp_path) as worker:
        worker.wait_ready()
        _produce_librdkafka(kafka_broker.bootstrap_servers, records, topics,
                            {"payment": "murmur2_random"})
        got = _read(kafka_broker.bootstrap_servers, outputs,
                    lambda v: len(_event_scores(v[scores_topic])) >= len(kept)
                    and len(v[dead_topic]) >= len(misplaced))
        metrics = worker.metrics()
        # the producer is fixed; `predelinq redrive` re-publishes the dead letters, placed by
        # KAFKA_PARTITIONER, and the worker applies them: every customer complete again
        redriven = [_redrive(worker.env) for _ in range(2)]
        after = _read(kafka_broker.bootstrap_servers, outputs,
                      lambda v: len(_event_scores(v[scores_topic])) >= len(records))
    assert redriven[0].startswith(f"re-published: wrong_partition {len(misplaced)};")
    assert redriven[1].startswith("re-published: none;")  # its consumer group remembers
    assert len(after[dead_topic]) == len(misplaced)  # none dead-lettered again
    assert_last_scores_match_replay(records, _event_scores(after[scores_topic]))
    letters = got[dead_topic]
    assert {letter["reason"] for letter in letters} == {"wrong_partition"}
    codec = AvroCodec(SchemaCatalog.default())
    dead_ids = [codec.decode(letter["raw"], RecordType.TRANSACTION)["event_id"]
                for letter in letters]
    assert sorted(dead_ids) == sorted(misplaced)  # every one, once, with its raw value
    counted = {k: v for k, v in metrics.items() if k.startswith("predelinq_dead_letters_total")}
    assert counted == {f'predelinq_dead_letters_total{{reason="wrong_partition",'
                       f'topic="{topics["TOPIC_TRANSACTIONS"]}"}}': len(misplaced)}
    scores = _event_scores(got[scores_topic])
    assert len(scores) == len(kept)
    assert_last_scores_match_replay(kept, scores)  # no customer state mixes partitions


def _redrive(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "stream_app", "redrive", "--reason",
                           "wrong_partition"], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


def test_with_a_schema_registry_and_confluent_serializers(
        kafka_broker: Any, schema_registry: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    # producers register their schemas with confluent-kafka's AvroSerializer (ids of the
    # registry, not of schemas/registry.json); the CRM reads with AvroDeserializer
    records = _inputs(customers=60, seed=44)
    topics = unique_topics("sr")
    registry = SchemaRegistryClient({"url": schema_registry.url})
    catalog = SchemaCatalog.default()
    serializers = {
        kind: AvroSerializer(registry, json.dumps(catalog.latest(record_type).definition))
        for kind, record_type in (("transaction", RecordType.TRANSACTION),
                                  ("payment", RecordType.PAYMENT))}
    def produce() -> None:
        producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers,
                             "partitioner": "murmur2_random", "enable.idempotence": True})
        for record in records:
            topic = topics[SETTING_OF[record["type"]]]
            body = {k: v for k, v in record.items() if k != "type"}
            producer.produce(topic, serializers[record["type"]](
                body, SerializationContext(topic, MessageField.VALUE)),
                key=record["customer_id"].encode())
        # a frame with an id the registry never gave: dead-lettered, not guessed
        first = next(r for r in records if r["type"] == "transaction")
        producer.produce(topics["TOPIC_TRANSACTIONS"], b"\x00\x7f\xff\xff\x00" + b"\x02",
                         key=first["customer_id"].encode())
        assert producer.flush(60) == 0

    env = _worker_env(kafka_broker, trained, topics, SCHEMA_REGISTRY_URL=schema_registry.url)
    scores_topic, dead_topic = topics["TOPIC_RISK_SCORES"], topics["TOPIC_DEADLETTER"]
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers,
                         "group.id": f"crm-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    consumer.subscribe([scores_topic, dead_topic])
    deserialize = AvroDeserializer(registry)
    scores: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []
    with WorkerProcess(env, tmp_path) as worker:
        ready = worker.wait_ready()
        produce()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (
                len(_event_scores(scores)) < len(records) or not letters):
            for message in consumer.consume(num_messages=5_000, timeout=0.5):
                if message.error() is None:
                    value = deserialize(message.value(), SerializationContext(
                        message.topic(), MessageField.VALUE))
                    (scores if message.topic() == scores_topic else letters).append(value)
        metrics = worker.metrics()
    consumer.close()
    checks = ready["checks"]
    assert isinstance(checks, dict)
    assert checks["output_schemas_registered"] is True
    assert [letter["reason"] for letter in letters] == ["unknown_schema_id"]
    # AvroDeserializer gives timestamp-millis fields as datetimes: back to epoch milliseconds
    as_millis = [{k: int(v.timestamp() * 1000) if isinstance(v, datetime) else v
                  for k, v in score.items()} for score in scores]
    assert_last_scores_match_replay(records, _event_scores(as_millis))
    # the outputs' subjects hold every revision of the contract, BACKWARD
    for topic in (scores_topic, dead_topic, topics["TOPIC_INTERVENTIONS"]):
        assert registry.get_compatibility(f"{topic}-value") == "BACKWARD"
    assert metrics.get("predelinq_schema_registry_errors_total", 0.0) == 0.0


def test_the_java_console_producer(kafka_broker: Any, trained: TrainedFixture,
                                   tmp_path: Path) -> None:
    # the Java client's default partitioner is murmur2, the worker's default; JSON values
    records = _inputs(customers=40, seed=43)
    topics = unique_topics("java")
    codec = AvroCodec(SchemaCatalog.default())
    scores_topic = topics["TOPIC_RISK_SCORES"]
    with WorkerProcess(_worker_env(kafka_broker, trained, topics), tmp_path) as worker:
        worker.wait_ready()
        for kind, setting in SETTING_OF.items():
            lines = b"".join(r["customer_id"].encode() + b"\t" + encode_record(codec, r, "json")
                             + b"\n" for r in records if r["type"] == kind)
            subprocess.run(java_tool_command(
                "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
                kafka_broker.bootstrap_servers, "--topic", topics[setting],
                "--property", "parse.key=true", "--property", "key.separator=\t",
                "--producer-property", "acks=all"),
                input=lines, check=True, capture_output=True, timeout=120)
        got = _read(kafka_broker.bootstrap_servers, {scores_topic: RecordType.RISK_SCORE,
                     topics["TOPIC_DEADLETTER"]: RecordType.DEADLETTER},
                    lambda v: len(_event_scores(v[scores_topic])) >= len(records))
    assert got[topics["TOPIC_DEADLETTER"]] == []
    assert_last_scores_match_replay(records, _event_scores(got[scores_topic]))

"""The audit sink as a real subprocess, between a real Apache Kafka broker and real PostgreSQL.

We produce risk scores and interventions ourselves (Avro and JSON, with re-deliveries of the
same ids and one undecodable record) to topics private to each test. The outage test owns its
PostgreSQL cluster, stops it while records keep arriving and starts it again: nothing is lost,
nothing is stored twice, and offsets never run ahead of the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition

from stream_app.db import apply_migrations
from stream_app.events import Intervention, RecordType, RiskScore
from stream_app.schema_registry import SchemaRegistryClient, register_outputs
from stream_app.serializers import OutputEncoder, SchemaCatalog
from tests.support.databases import fetch, fresh_database
from tests.support.kafka_io import produce
from tests.support.outputs import encode, encode_outcome, intervention, outcome, risk_score
from tests.support.postgres_server import PostgresServer
from tests.support.sink_process import SinkProcess
from tests.support.worker_process import unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 3
Output = RiskScore | Intervention


# --- Kafka helpers ----------------------------------------------------------------------------

async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def _committed(bootstrap: str, group: str) -> int:
    """Sum of the group's committed offsets (0 before the group exists)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except GroupCoordinatorNotAvailableError:  # the broker knows no such group yet
        return 0
    finally:
        await admin.close()
    return sum(meta.offset for meta in offsets.values() if meta.offset > 0)


async def _end_offsets(bootstrap: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return int(sum(ends.values()))


def _messages(topics: dict[str, str], records: list[tuple[Output, str]]
              ) -> list[tuple[str, bytes | None, bytes | None]]:
    out: list[tuple[str, bytes | None, bytes | None]] = []
    for record, wire in records:
        topic = topics["TOPIC_RISK_SCORES" if isinstance(record, RiskScore)
                      else "TOPIC_INTERVENTIONS"]
        out.append((topic, record.customer_id.encode(), encode(record, wire)))
    return out


def _wave(run: str, first: int, count: int, interventions_every: int = 5
          ) -> list[tuple[Output, str]]:
    records: list[tuple[Output, str]] = []
    for i in range(first, first + count):
        wire = "json" if i % 4 == 0 else "avro"
        records.append((risk_score(i, run), wire))
        if i % interventions_every == 0:
            records.append((intervention(i, run), wire))
    return records


def _ids(records: list[tuple[Output, str]]) -> tuple[set[str], set[str]]:
    scores = {r.event_id for r, _ in records if isinstance(r, RiskScore)}
    decisions = {r.intervention_id for r, _ in records if isinstance(r, Intervention)}
    return scores, decisions


# --- database helpers -------------------------------------------------------------------------

def _stored(url: str) -> tuple[list[str], list[str]]:
    scores = asyncio.run(fetch(url, "SELECT event_id FROM risk_scores"))
    decisions = asyncio.run(fetch(url, "SELECT intervention_id FROM interventions"))
    return ([str(r["event_id"]) for r in scores],
            [str(r["intervention_id"]) for r in decisions])


def _holds(url: str, scores: set[str], decisions: set[str]) -> bool:
    stored_scores, stored_decisions = _stored(url)
    return scores <= set(stored_scores) and decisions <= set(stored_decisions)


_DAILY_CHECKS = (
    ("SELECT (scored_at AT TIME ZONE 'UTC')::date AS day, band, count(*) AS n FROM risk_scores "
     "GROUP BY 1, 2",
     "SELECT day, band, sum(n) AS n FROM risk_scores_daily WHERE n <> 0 GROUP BY 1, 2"),
    ("SELECT (created_at AT TIME ZONE 'UTC')::date AS day, action, count(*) AS n "
     "FROM interventions GROUP BY 1, 2",
     "SELECT day, action, sum(n) AS n FROM interventions_daily WHERE n <> 0 GROUP BY 1, 2"),
)


def _assert_exactly_once(url: str, scores: set[str], decisions: set[str]) -> None:
    stored_scores, stored_decisions = _stored(url)
    assert sorted(stored_scores) == sorted(scores)  # every id, once (0 lost, 0 doubled)
    assert sorted(stored_decisions) == sorted(decisions)
    # the console's daily rollups (migration 0007) count what the sink's statements stored,
    # re-deliveries skipped by ON CONFLICT DO NOTHING included
    for rows, rollup in _DAILY_CHECKS:
        expected = {tuple(r[:2]): r["n"] for r in asyncio.run(fetch(url, rows))}
        assert {tuple(r[:2]): r["n"] for r in asyncio.run(fetch(url, rollup))} == expected


def _sink(topics: dict[str, str], bootstrap: str, database_url: str, workdir: Path,
          batch_size: int) -> SinkProcess:
    return SinkProcess({**topics, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                        "DATABASE_URL": database_url, "SINK_BATCH_SIZE": str(batch_size)},
                       workdir)


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def test_every_record_lands_once_and_offsets_follow_the_database(
        kafka_broker: Any, database: str, tmp_path: Path) -> None:
    bootstrap: str = kafka_broker.bootstrap_servers
    run = tmp_path.name
    topics = unique_topics("sink")
    outputs = [topics["TOPIC_RISK_SCORES"], topics["TOPIC_INTERVENTIONS"]]
    asyncio.run(_create_topics(bootstrap, outputs))
    first = _wave(run, 0, 300)
    second = _wave(run, 300, 100)
    # re-deliveries: the same records again, and the same ids in the other wire format
    again = first[:40] + [(r, "json" if w == "avro" else "avro") for r, w in first[40:60]]
    scores, decisions = _ids(first + second)
    junk = [(outputs[0], b"k", b"\xff not a record")]
    produced = asyncio.run(produce(bootstrap, [*_messages(topics, first + again), *junk]))

    with _sink(topics, bootstrap, database, tmp_path, batch_size=64) as sink:
        ready = sink.wait_ready(timeout=60)
        assert ready["checks"] == {"database": True, "partitions_assigned": True}
        produced += asyncio.run(produce(bootstrap, _messages(topics, second)))
        sink.wait_for("every id in the database", lambda: _holds(database, scores, decisions),
                      timeout=60)
        group = f"{topics['APP_NAME']}-audit-sink"
        sink.wait_for("offsets committed to the end",
                      lambda: asyncio.run(_committed(bootstrap, group)) == produced, timeout=30)
        assert asyncio.run(_end_offsets(bootstrap, outputs)) == produced
        metrics = sink.metrics()
        _assert_exactly_once(database, scores, decisions)
        assert metrics['predelinq_sink_rows_total{table="risk_scores"}'] == len(scores)
        assert metrics['predelinq_sink_rows_total{table="interventions"}'] == len(decisions)
        assert sink.metric("predelinq_sink_duplicates_total") == len(again)
        assert metrics['predelinq_sink_undecodable_total{reason="malformed_frame",'
                       'table="risk_scores"}'] == 1
        assert metrics["predelinq_sink_database_up"] == 1
        assert metrics["predelinq_sink_last_commit_timestamp_seconds"] > time.time() - 120
        assert sink.stop() == 0

    log = sink.log_path.read_text()
    assert "skipping undecodable record" in log
    assert f"cust-{run}-" not in log  # no customer id in the logs


def test_pending_migrations_stop_the_sink_before_it_consumes(postgres_url: str,
                                                             tmp_path: Path) -> None:
    with fresh_database(postgres_url, migrate=False) as url:
        sink = _sink(unique_topics("sink"), "127.0.0.1:1", url, tmp_path, batch_size=10)
        sink.start()
        assert sink.process is not None
        assert sink.process.wait(60) == 3
    assert "run `predelinq migrate` first" in sink.log_tail()
    assert "Traceback" not in sink.log_tail()


OUTAGE_SECONDS = 60.0  # issue 6: PostgreSQL stopped for 60 s under load


def test_a_database_outage_loses_nothing(kafka_broker: Any, tmp_path: Path) -> None:
    """PostgreSQL stopped for a minute while records keep arriving at a steady rate: the sink
    retries, commits no offset it has not stored, and after the restart every row is there,
    once."""
    bootstrap: str = kafka_broker.bootstrap_servers
    run = tmp_path.name
    topics = unique_topics("outage")
    outputs = [topics["TOPIC_RISK_SCORES"], topics["TOPIC_INTERVENTIONS"]]
    group = f"{topics['APP_NAME']}-audit-sink"
    asyncio.run(_create_topics(bootstrap, outputs))
    before, during = _wave(run, 0, 150), _wave(run, 150, 600)
    scores, decisions = _ids(before + during)
    chunks = [during[i:i + 20] for i in range(0, len(during), 20)] + [before[:20]]
    pace = OUTAGE_SECONDS / len(chunks)  # the load is spread over the whole outage

    with PostgresServer() as pg:
        asyncio.run(apply_migrations(pg.url))
        with _sink(topics, bootstrap, pg.url, tmp_path, batch_size=50) as sink:
            sink.wait_ready(timeout=60)
            written = asyncio.run(produce(bootstrap, _messages(topics, before)))
            sink.wait_for("the first wave committed",
                          lambda: asyncio.run(_committed(bootstrap, group)) == written,
                          timeout=30)

            pg.stop("fast")  # the outage: records keep arriving
            stopped = time.monotonic()
            produced = written
            assert sink.process is not None
            for number, chunk in enumerate(chunks, 1):
                produced += asyncio.run(produce(bootstrap, _messages(topics, chunk)))
                time.sleep(max(0.0, stopped + pace * number - time.monotonic()))
                assert sink.process.poll() is None  # the sink rides the outage out
            assert sink.readiness() == (503, {"database": False, "partitions_assigned": True})
            assert sink.metric("predelinq_sink_retries_total") >= 2
            assert sink.metric("predelinq_sink_database_up") == 0
            # nothing consumed during the outage is committed
            assert asyncio.run(_committed(bootstrap, group)) == written
            outage = time.monotonic() - stopped
            assert outage >= OUTAGE_SECONDS

            pg.start()  # the backlog drains
            restarted = time.monotonic()
            sink.wait_for("every id in the database", lambda: _holds(pg.url, scores, decisions),
                          timeout=60)
            drained = time.monotonic() - restarted
            sink.wait_for("offsets committed to the end",
                          lambda: asyncio.run(_committed(bootstrap, group)) == produced,
                          timeout=30)
            assert sink.readiness() == (200, {"database": True, "partitions_assigned": True})
            _assert_exactly_once(pg.url, scores, decisions)
            assert sink.stop() == 0
    print(f"\n[database outage] {outage:.0f}s down, {produced - written} records arrived "
          f"meanwhile; every row stored {drained:.1f}s after the restart; 0 lost, 0 doubled")
    assert f"cust-{run}-" not in sink.log_path.read_text()


def test_a_sink_stopped_during_an_outage_commits_nothing_and_its_successor_catches_up(
        kafka_broker: Any, tmp_path: Path) -> None:
    bootstrap: str = kafka_broker.bootstrap_servers
    run = tmp_path.name
    topics = unique_topics("restart")
    outputs = [topics["TOPIC_RISK_SCORES"], topics["TOPIC_INTERVENTIONS"]]
    group = f"{topics['APP_NAME']}-audit-sink"
    asyncio.run(_create_topics(bootstrap, outputs))
    before, during = _wave(run, 0, 60), _wave(run, 60, 60)
    scores, decisions = _ids(before + during)

    with PostgresServer() as pg:
        asyncio.run(apply_migrations(pg.url))
        pg.stop("fast")  # down before the sink starts: it waits for the database
        written = asyncio.run(produce(bootstrap, _messages(topics, before)))
        first = _sink(topics, bootstrap, pg.url, tmp_path / "first", batch_size=40).start()
        try:
            first.wait_for("the sink to serve /ready", lambda: first.readiness()[0] == 503,
                           timeout=30)
            pg.start()
            first.wait_for("the first wave committed",
                           lambda: asyncio.run(_committed(bootstrap, group)) == written,
                           timeout=30)
            pg.stop("fast")
            produced = written + asyncio.run(produce(bootstrap, _messages(topics, during)))
            first.wait_for("a failed attempt",
                           lambda: first.metric("predelinq_sink_retries_total") > 0, timeout=20)
            started = time.monotonic()
            assert first.stop() == 0  # SIGTERM while a batch waits for the database
            assert time.monotonic() - started < 10
        finally:
            first.stop()
        assert asyncio.run(_committed(bootstrap, group)) == written

        pg.start()
        with _sink(topics, bootstrap, pg.url, tmp_path / "second", batch_size=40) as second:
            second.wait_for("every id in the database",
                            lambda: _holds(pg.url, scores, decisions), timeout=60)
            second.wait_for("offsets committed to the end",
                            lambda: asyncio.run(_committed(bootstrap, group)) == produced,
                            timeout=30)
            _assert_exactly_once(pg.url, scores, decisions)
            assert second.stop() == 0
    assert "stopping: the unwritten batch's offsets are not committed" in first.log_tail()


def test_outcomes_land_once_and_bad_ones_are_counted(
        kafka_broker: Any, database: str, tmp_path: Path) -> None:
    bootstrap: str = kafka_broker.bootstrap_servers
    run = tmp_path.name
    topics = unique_topics("sink-outcomes")
    topic = topics["TOPIC_OUTCOMES"]
    asyncio.run(_create_topics(bootstrap, [topic]))
    records = [outcome(i, run) for i in range(30)]
    messages = [(topic, r["customer_id"].encode(), encode_outcome(r, "json" if i % 4 else "avro"))
                for i, r in enumerate(records)]
    again = messages[:10]  # re-delivered: the same event ids
    junk = [(topic, b"k", b"\xff not a record"),
            (topic, b"k", encode_outcome(outcome(99, run, outcome="ANSWERED"), "json"))]
    produced = asyncio.run(produce(bootstrap, [*messages, *again, *junk]))

    def stored() -> list[str]:
        rows = asyncio.run(fetch(database, "SELECT event_id FROM intervention_outcomes"))
        return [r["event_id"] for r in rows]

    with _sink(topics, bootstrap, database, tmp_path, batch_size=16) as sink:
        sink.wait_ready(timeout=60)
        group = f"{topics['APP_NAME']}-audit-sink"
        sink.wait_for("offsets committed to the end",
                      lambda: asyncio.run(_committed(bootstrap, group)) == produced, timeout=30)
        assert sorted(stored()) == sorted(r["event_id"] for r in records)  # none doubled
        metrics = sink.metrics()
        assert metrics['predelinq_sink_rows_total{table="intervention_outcomes"}'] == 30
        assert metrics['predelinq_sink_duplicates_total{table="intervention_outcomes"}'] == 10
        assert metrics['predelinq_sink_undecodable_total{reason="malformed_frame",'
                       'table="intervention_outcomes"}'] == 1
        assert metrics['predelinq_sink_undecodable_total{reason="invalid_value",'
                       'table="intervention_outcomes"}'] == 1
        assert sink.stop() == 0
    payments = asyncio.run(fetch(database, "SELECT amount_minor FROM intervention_outcomes "
                                           "WHERE outcome = 'PAYMENT_MADE' ORDER BY 1"))
    assert [r["amount_minor"] for r in payments] == [
        r["amount_minor"] for r in records if r["outcome"] == "PAYMENT_MADE"]
    assert f"cust-{run}-" not in sink.log_path.read_text()


async def _produce_transactions(bootstrap: str, aborted: list[tuple[str, bytes | None, bytes]],
                                committed: list[tuple[str, bytes | None, bytes]]) -> None:
    """What an exactly_once worker leaves behind after a crash: one transaction aborted,
    one committed."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"tx-{id(aborted)}")
    await producer.start()
    try:
        for records, commit in ((aborted, False), (committed, True)):
            await producer.begin_transaction()
            for topic, key, value in records:
                await producer.send(topic, value, key=key)
            if commit:
                await producer.commit_transaction()
            else:
                await producer.abort_transaction()
    finally:
        await producer.stop()


def test_outputs_of_aborted_transactions_are_never_stored(
        kafka_broker: Any, database: str, tmp_path: Path) -> None:
    bootstrap: str = kafka_broker.bootstrap_servers
    run = tmp_path.name
    topics = unique_topics("sink-tx")
    asyncio.run(_create_topics(bootstrap, [topics["TOPIC_RISK_SCORES"],
                                           topics["TOPIC_INTERVENTIONS"]]))
    aborted, committed = _wave(run, 0, 40), _wave(run, 40, 40)
    asyncio.run(_produce_transactions(bootstrap, _messages(topics, aborted),
                                      _messages(topics, committed)))
    scores, decisions = _ids(committed)
    with _sink(topics, bootstrap, database, tmp_path, batch_size=16) as sink:
        sink.wait_ready(timeout=60)
        sink.wait_for("the committed transaction's ids in the database",
                      lambda: _holds(database, scores, decisions), timeout=60)
        _assert_exactly_once(database, scores, decisions)  # nothing of the aborted one
        assert sink.stop() == 0


def test_outputs_framed_with_schema_registry_ids_are_stored(
        kafka_broker: Any, schema_registry: Any, database: str, tmp_path: Path) -> None:
    # a worker with SCHEMA_REGISTRY_URL frames outputs with the registry's ids, which
    # schemas/registry.json does not know: the sink learns them from the same registry
    bootstrap: str = kafka_broker.bootstrap_servers
    topics = unique_topics("sinksr")
    outputs = [topics["TOPIC_RISK_SCORES"], topics["TOPIC_INTERVENTIONS"]]
    asyncio.run(_create_topics(bootstrap, outputs))
    catalog = SchemaCatalog.default()

    async def register() -> dict[RecordType, int]:
        client = SchemaRegistryClient(schema_registry.url)
        try:
            return await register_outputs(client, catalog, {
                RecordType.RISK_SCORE: outputs[0], RecordType.INTERVENTION: outputs[1]})
        finally:
            await client.close()

    ids = asyncio.run(register())
    encoder = OutputEncoder(catalog, "avro", ids)
    records = [r for r, _ in _wave(tmp_path.name, 0, 120)]
    messages = []
    for record in records:
        record_type = (RecordType.RISK_SCORE if isinstance(record, RiskScore)
                       else RecordType.INTERVENTION)
        value = encoder.encode(record_type, record.to_record())
        assert int.from_bytes(value[1:5], "big") == ids[record_type]
        messages.append((outputs[0] if isinstance(record, RiskScore) else outputs[1],
                         record.customer_id.encode(), value))
    asyncio.run(produce(bootstrap, messages))
    scores, decisions = _ids([(r, "avro") for r in records])
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database,
           "SCHEMA_REGISTRY_URL": schema_registry.url}
    with SinkProcess(env, tmp_path) as sink:
        sink.wait_ready(timeout=60)
        sink.wait_for("every id in the database", lambda: _holds(database, scores, decisions),
                      timeout=60)
        _assert_exactly_once(database, scores, decisions)
        assert not [k for k, v in sink.metrics().items()
                    if k.startswith("predelinq_sink_undecodable_total") and v]
        assert sink.stop() == 0

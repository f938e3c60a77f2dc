"""The worker when the broker side is in trouble, on real Apache Kafka.

* a broker that is not up yet: the worker answers /health, stays unready and backs off, then
  becomes ready and scores once a broker appears on its bootstrap address;
* a three-node cluster losing a broker (SIGKILL) mid-stream: with replication factor 3,
  min.insync.replicas 2 and acks=all, processing continues and nothing is lost; the failover
  times are measured and printed (run with ``-s`` to see them);
* SASL: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 against a SASL-only client listener, and what
  a wrong password looks like (never ready, "authentication failed", no password in logs).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from stream_app.brokers import KafkaBroker, KafkaCluster, answers_metadata, free_port
from stream_app.events import RecordType
from stream_app.processing import TIMER_TOPIC
from stream_app.serializers import OutputDecoder, SchemaCatalog
from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import assert_last_scores_match_replay, simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SASL_USER = "alice"
SASL_PASSWORD = "alice-Secret.42"
WRONG_PASSWORD = "not-alices-password-7"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _decode_scores(records: list[Any]) -> list[dict[str, Any]]:
    decoder = OutputDecoder(SchemaCatalog.default())
    return [decoder.decode(RecordType.RISK_SCORE, m.value) for m in records]


def _event_triggers(scores: list[dict[str, Any]]) -> collections.Counter[tuple[str, str]]:
    """(customer, trigger event id) of the event-triggered risk events (absence rescorings,
    ``trigger_topic == "timer"``, left out)."""
    return collections.Counter((s["customer_id"], s["trigger_event_id"]) for s in scores
                               if s["trigger_topic"] != TIMER_TOPIC)


def _input_ids(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["customer_id"], r["event_id"]) for r in records}



def _worker_env(topics: dict[str, str], bootstrap: str, trained: TrainedFixture,
                **extra: str) -> dict[str, str]:
    return {**topics, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MODEL_PATH": str(trained.path),
            "TOPIC_PARTITIONS": "4", "ENABLE_INTERVENTIONS": "false", **extra}


def _wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _answers(worker: WorkerProcess, path: str) -> int | None:
    try:
        return worker.get(path)[0]
    except OSError:
        return None


# --- a broker that is not up yet ------------------------------------------------------------

def test_worker_started_before_its_broker_waits_then_scores(
        trained: TrainedFixture, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here until the broker below starts
    topics = unique_topics("late-broker")
    records = simulated(customers=12, days=25, seed=41)
    env = _worker_env(topics, f"127.0.0.1:{port}", trained)
    with WorkerProcess(env, tmp_path / "worker") as worker:
        assert _wait_until(lambda: _answers(worker, "/health") == 200, 30), worker.log_tail()
        watched_until = time.monotonic() + 6.0
        while time.monotonic() < watched_until:  # alive but not ready, for several seconds
            assert _answers(worker, "/health") == 200
            status, body = worker.get("/ready")
            assert status == 503, body
            time.sleep(0.5)
        log = worker.log_path.read_text()
        # exponential backoff: each attempt's wait is logged, doubling
        for delay in ("0.5s", "1.0s", "2.0s"):
            assert f"Kafka not reachable yet (KafkaConnectionError); retrying in {delay}" in log
        broker = KafkaBroker(port=port, workdir=tmp_path / "broker")
        started = time.monotonic()
        broker.start()
        try:
            up = time.monotonic()
            ready = worker.wait_ready(timeout=60)
            print(f"\n[late broker] broker start {up - started:.1f}s, worker ready "
                  f"{time.monotonic() - up:.1f}s after the broker answered")
            assert ready["ready"] is True
            sent = asyncio.run(produce(broker.bootstrap_servers, encode_inputs(records, topics)))
            scores_topic = topics["TOPIC_RISK_SCORES"]
            got = asyncio.run(consume_until(
                broker.bootstrap_servers, [scores_topic],
                lambda r: len(r[scores_topic]) >= sent, timeout=60, settle=2.0))
        finally:
            worker.stop()
            broker.cleanup()
    triggers = _event_triggers(_decode_scores(got[scores_topic]))
    assert set(triggers) == _input_ids(records)
    assert max(triggers.values()) == 1


# --- three brokers, one killed mid-stream -----------------------------------------------------

class _ArrivalRecorder:
    """Reads a topic from its start in a background thread and notes when each record
    arrived (monotonic clock), decoded as a risk event."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.arrivals: list[tuple[float, int, dict[str, Any]]] = []  # (time, partition, event)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> _ArrivalRecorder:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._thread.is_alive() and exc_type is None:  # else the test's own error shows
            raise RuntimeError("the arrival recorder's consumer did not stop within 30 s")

    def _main(self) -> None:
        try:
            asyncio.run(self._consume())
        except BaseException as exc:  # reported by the test through ``error``
            self.error = exc

    async def _consume(self) -> None:
        decoder = OutputDecoder(SchemaCatalog.default())
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                    group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.monotonic()
                for tp, messages in batch.items():
                    for message in messages:
                        self.arrivals.append(
                            (now, tp.partition, decoder.decode(RecordType.RISK_SCORE,
                                                               message.value)))
        finally:
            await consumer.stop()

    def scores(self) -> list[dict[str, Any]]:
        return [event for _, _, event in list(self.arrivals)]

    def wait_for(self, wanted: set[tuple[str, str]], timeout: float) -> bool:
        def covered() -> bool:
            assert self.error is None, self.error
            return wanted <= set(_event_triggers(self.scores()))
        return _wait_until(covered, timeout, step=0.5)


def _progress(worker: WorkerProcess, recorder: _ArrivalRecorder,
              records: list[dict[str, Any]]) -> str:
    """What the worker and the test's consumer have seen, for a failure message."""
    metrics = worker.metrics() if _answers(worker, "/health") == 200 else {}
    scored = sum(v for k, v in metrics.items() if k.startswith("predelinq_scores_total"))
    seen = set(_event_triggers(recorder.scores()))
    return (f"worker scored {scored:.0f}; the test read {len(recorder.arrivals)} risk events "
            f"covering {len(seen & _input_ids(records))} of {len(records)} input events "
            f"(recorder error: {recorder.error!r})\n{worker.log_tail(30)}")


async def _leaders(bootstrap: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {p["partition"]: p["leader"] for p in described[0]["partitions"]}


# producer settings that ride out a leader change: acks=all, idempotent retries, and batches
# that wait long enough for the controller to fence the dead broker (~9 s session timeout)
FAILOVER_PRODUCER = {"enable_idempotence": True, "request_timeout_ms": 60_000,
                     "retry_backoff_ms": 200}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    with KafkaCluster(workdir=tmp_path / "cluster") as running:
        yield running


def test_three_brokers_one_killed_mid_stream_loses_nothing(
        cluster: KafkaCluster, trained: TrainedFixture, tmp_path: Path) -> None:
    began = time.monotonic()
    topics = unique_topics("failover")
    records = simulated(customers=120, days=90, seed=17)  # sorted by event time
    first, second = records[: len(records) // 2], records[len(records) // 2:]
    scores_topic = topics["TOPIC_RISK_SCORES"]
    env = _worker_env(topics, cluster.bootstrap_servers, trained,
                      TOPIC_REPLICATION_FACTOR="3", BATCH_SIZE="200")
    # the recorder stops (its thread and consumer) before the worker and the cluster do
    with WorkerProcess(env, tmp_path / "worker") as worker, contextlib.ExitStack() as stack:
        worker.wait_ready(timeout=60)  # the output topics exist from here on
        recorder = _ArrivalRecorder(cluster.bootstrap_servers, scores_topic)
        stack.enter_context(recorder)
        t0 = time.monotonic()
        asyncio.run(produce(cluster.bootstrap_servers, encode_inputs(first, topics),
                            **FAILOVER_PRODUCER))
        print("produced first half", time.monotonic() - t0)
        assert recorder.wait_for(_input_ids(first), 60), _progress(worker, recorder, first)
        print("scored first half", time.monotonic() - t0)
        leaders = asyncio.run(_leaders(cluster.bootstrap_servers, scores_topic))
        victim = leaders[0]  # the leader of the first output partition
        led = {partition for partition, leader in leaders.items() if leader == victim}

        killed_at = time.monotonic()
        cluster.kill(victim)
        asyncio.run(produce(cluster.bootstrap_servers, encode_inputs(second, topics),
                            **FAILOVER_PRODUCER))
        produced_in = time.monotonic() - killed_at
        assert recorder.wait_for(_input_ids(records), 90), _progress(worker, recorder, records)
        time.sleep(1.0)  # anything extra (duplicates) that is still on its way
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log_tail()
        arrivals = list(recorder.arrivals)

    after = [(at - killed_at, partition) for at, partition, _ in arrivals if at >= killed_at]
    assert after, "no risk event after the kill"
    to_next = after[0][0]
    resumed = max(min(t for t, p in after if p == partition) for partition in led)
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(after)]
    scores = [event for _, _, event in arrivals]
    triggers = _event_triggers(scores)
    duplicates = sum(n - 1 for n in triggers.values())
    print(f"\n[failover] {len(records)} events, killed node {victim} (leader of risk "
          f"partitions {sorted(led)}); next risk event {to_next:.2f}s after the kill; "
          f"its partitions flowing again after {resumed:.2f}s; longest pause between risk "
          f"events {max(gaps, default=0.0):.2f}s; second half produced in {produced_in:.2f}s; "
          f"duplicate risk events {duplicates}; test body {time.monotonic() - began:.1f}s")

    assert set(triggers) == _input_ids(records)  # every input event scored, nothing lost
    # a risk event sent twice is the same event (same id), so consumers deduplicate it
    assert len({s["event_id"] for s in scores}) == len(
        {(s["customer_id"], s["trigger_topic"], s["trigger_event_id"]) for s in scores})
    # in partition order: a customer's last one wins
    assert_last_scores_match_replay(
        records, [s for s in scores if s["trigger_topic"] != TIMER_TOPIC])

    restarted_at = time.monotonic()
    cluster.start(victim)  # same storage; waits until the metadata lists it again
    print(f"[failover] node {victim} back in the metadata {time.monotonic() - restarted_at:.1f}s "
          "after its restart")


# --- SASL ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(sasl_users={SASL_USER: SASL_PASSWORD},
                         workdir=tmp_path_factory.mktemp("sasl-broker"))
    broker.start()
    try:
        yield broker
    finally:
        broker.cleanup()


def _sasl_env(mechanism: str, password: str) -> dict[str, str]:
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": SASL_USER, "KAFKA_SASL_PASSWORD": password}


def _sasl_client(mechanism: str) -> dict[str, str]:
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
            "sasl_plain_username": SASL_USER, "sasl_plain_password": SASL_PASSWORD}


def test_the_sasl_listener_refuses_unauthenticated_clients(sasl_broker: KafkaBroker) -> None:
    assert not answers_metadata(sasl_broker.bootstrap_servers, timeout=3.0)
    assert answers_metadata(sasl_broker.plaintext_bootstrap_servers, timeout=3.0)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_worker_authenticates_and_scores_over_sasl(
        sasl_broker: KafkaBroker, trained: TrainedFixture, tmp_path: Path,
        mechanism: str) -> None:
    topics = unique_topics("sasl")
    records = simulated(customers=4, days=10, seed=3)
    env = _worker_env(topics, sasl_broker.bootstrap_servers, trained,
                      **_sasl_env(mechanism, SASL_PASSWORD))
    scores_topic = topics["TOPIC_RISK_SCORES"]
    with WorkerProcess(env, tmp_path) as worker:
        worker.wait_ready(timeout=60)
        sent = asyncio.run(produce(sasl_broker.bootstrap_servers,
                                   encode_inputs(records, topics), **_sasl_client(mechanism)))
        got = asyncio.run(consume_until(
            sasl_broker.bootstrap_servers, [scores_topic],
            lambda r: len(r[scores_topic]) >= sent, timeout=60, settle=1.0,
            **_sasl_client(mechanism)))
        log = worker.log_path.read_text()
    triggers = _event_triggers(_decode_scores(got[scores_topic]))
    assert set(triggers) == _input_ids(records)
    assert f"Authenticated as {SASL_USER} via {mechanism}" in log
    assert SASL_PASSWORD not in log


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_worker_with_a_wrong_password_never_becomes_ready(
        sasl_broker: KafkaBroker, trained: TrainedFixture, tmp_path: Path,
        mechanism: str) -> None:
    topics = unique_topics("sasl-wrong")
    env = _worker_env(topics, sasl_broker.bootstrap_servers, trained,
                      **_sasl_env(mechanism, WRONG_PASSWORD))
    with WorkerProcess(env, tmp_path) as worker:
        assert _wait_until(lambda: _answers(worker, "/health") == 200, 30), worker.log_tail()
        refused = f"Kafka refused the login, authentication failed at " \
                  f"{sasl_broker.bootstrap_servers} as user '{SASL_USER}' with {mechanism}"
        # alive and not ready until the refusal is logged, and for two retries (2 s) after it
        deadline = time.monotonic() + 30.0
        watched_until: float | None = None
        while watched_until is None or time.monotonic() < watched_until:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log_tail()
            assert _answers(worker, "/ready") == 503
            if watched_until is None and refused in worker.log_path.read_text():
                watched_until = time.monotonic() + 2.0
            assert watched_until is not None or time.monotonic() < deadline, \
                worker.log_tail()
            time.sleep(0.5)
    log = worker.log_path.read_text()
    assert WRONG_PASSWORD not in log
    assert "Kafka not reachable yet" not in log  # a refused login is not called unreachable


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_topics_command_reports_a_refused_login(
        sasl_broker: KafkaBroker, mechanism: str) -> None:
    def topics_command(password: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **unique_topics("sasl-cli"), **_sasl_env(mechanism, password),
               "KAFKA_BOOTSTRAP_SERVERS": sasl_broker.bootstrap_servers}
        return subprocess.run([sys.executable, "-m", "stream_app", "topics"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    refused = topics_command(WRONG_PASSWORD)
    assert refused.returncode != 0
    assert (f"predelinq topics: Kafka at {sasl_broker.bootstrap_servers} failed: "
            f"KafkaAuthenticationError: authentication failed at "
            f"{sasl_broker.bootstrap_servers} as user '{SASL_USER}' with {mechanism}"
            ) in refused.stderr
    assert WRONG_PASSWORD not in refused.stdout + refused.stderr
    accepted = topics_command(SASL_PASSWORD)
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("created: ")

"""Poison input: the worker (a subprocess) on a real Apache Kafka broker, fed more than 10,000
bad records of every kind the contract knows (``tests/support/poison.py``) interleaved with a
simulated bank's events on the transaction and payment topics.

The worker must never exit or stop being ready; every bad record must reach the dead-letter
topic exactly once, found by its (topic, partition, offset), with the contract's reason code and
its raw bytes (records too large to be repeated whole in a dead letter keep their reason and
offset and leave the raw value out); every good event must give exactly one event-triggered
risk event; and ``/metrics`` must count the dead letters per topic and reason.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from stream_app.events import RecordType
from stream_app.processing import TIMER_TOPIC
from stream_app.serializers import OutputDecoder, SchemaCatalog
from tests.support.kafka_io import consume_until, encode_inputs, produce_tracked
from tests.support.models import TrainedFixture
from tests.support.poison import BASE_COUNTS, LARGE_COUNTS, Poison, generate_poison
from tests.support.replay import simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS, DAYS = 150, 60
LEFT_OUT = ("oversize", "huge_key")  # poison whose dead letter cannot repeat it whole
DECODER = OutputDecoder(SchemaCatalog.default())
Placed = tuple[str, int, int]  # topic, partition, offset


class ReadinessWatch(threading.Thread):
    """Polls ``/ready`` every quarter second while the test feeds the worker and keeps every
    answer that is not a 200 (or no answer at all) and whether the process exited."""

    def __init__(self, worker: WorkerProcess) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.polls = 0
        self.failures: list[str] = []
        self.exited = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        process = self.worker.process
        assert process is not None
        while not self._stop_event.wait(0.25):
            if process.poll() is not None:
                self.exited = True
                return
            try:
                status, body = self.worker.get("/ready")
            except OSError as exc:
                self.failures.append(f"no answer: {exc!r}")
                continue
            self.polls += 1
            if status != 200:
                self.failures.append(f"{status}: {body[:200]!r}")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def _interleave(good: Sequence[tuple[str, bytes, bytes]], poison: Sequence[Poison],
                seed: int) -> tuple[list[tuple[str, bytes | None, bytes | None]],
                                    list[Poison | None]]:
    """Both streams shuffled into one at random, each keeping its own order (a customer's
    good events stay in time order)."""
    rng = random.Random(seed)
    stream: list[tuple[str, bytes | None, bytes | None]] = []
    origin: list[Poison | None] = []
    i = j = 0
    while i < len(good) or j < len(poison):
        left_good, left_bad = len(good) - i, len(poison) - j
        if left_good and rng.random() < left_good / (left_good + left_bad):
            stream.append(good[i])
            origin.append(None)
            i += 1
        else:
            item = poison[j]
            stream.append((item.topic, item.key, item.value))
            origin.append(item)
            j += 1
    return stream, origin


class _Progress:
    """``done`` of consume_until: decodes only the records that arrived since the last call."""

    def __init__(self, scores_topic: str, dead_topic: str, good: int, bad: int) -> None:
        self.scores_topic, self.dead_topic = scores_topic, dead_topic
        self.good, self.bad = good, bad
        self._seen = 0
        self.event_scores = 0

    def __call__(self, got: dict[str, list[ConsumerRecord[bytes, bytes]]]) -> bool:
        scores = got[self.scores_topic]
        for message in scores[self._seen:]:
            score = DECODER.decode(RecordType.RISK_SCORE, message.value)
            self.event_scores += score["trigger_topic"] != TIMER_TOPIC
        self._seen = len(scores)
        return self.event_scores >= self.good and len(got[self.dead_topic]) >= self.bad


@pytest.fixture(scope="module")
def poison_run(kafka_broker: Any, trained: TrainedFixture,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    topics = unique_topics("poison")
    records = simulated(customers=CUSTOMERS, days=DAYS, seed=21)
    good = encode_inputs(records, topics, json_share=0.1)
    poison = generate_poison(topics, records, seed=17)
    stream, origin = _interleave(good, poison, seed=3)
    env = {
        **topics,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "MODEL_PATH": str(trained.path),
        "TOPIC_PARTITIONS": "4",
        "BATCH_SIZE": "500",
    }
    scores_topic, dead_topic = topics["TOPIC_RISK_SCORES"], topics["TOPIC_DEADLETTER"]
    timings: dict[str, float] = {}
    workdir = tmp_path_factory.mktemp("poison")
    with WorkerProcess(env, workdir) as worker:
        started = time.monotonic()
        worker.wait_ready()
        timings["ready"] = time.monotonic() - started
        watch = ReadinessWatch(worker)
        watch.start()
        try:
            started = time.monotonic()
            placed = asyncio.run(produce_tracked(kafka_broker.bootstrap_servers, stream))
            timings["produce"] = time.monotonic() - started
            progress = _Progress(scores_topic, dead_topic, len(good), len(poison))
            outputs = asyncio.run(consume_until(
                kafka_broker.bootstrap_servers, [scores_topic, dead_topic], progress,
                timeout=150, settle=3.0))
            timings["all outputs"] = time.monotonic() - started
            metrics = worker.metrics()
        finally:
            watch.stop()
        assert worker.process is not None
        exit_code = worker.process.poll()
        log = worker.log_path.read_text(errors="replace")
    print(f"\npoison run: {len(good)} good events, {len(poison)} bad records "
          f"({sum(len(p.value or b'') + len(p.key or b'') for p in poison) / 1e6:.1f} MB), "
          + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()))
    return {"topics": topics, "records": records, "good": good, "poison": poison,
            "placed": placed, "origin": origin, "outputs": outputs, "metrics": metrics,
            "watch": watch, "exit_code": exit_code, "log": log}


def _dead_letters(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [DECODER.decode(RecordType.DEADLETTER, m.value) | {"_key": m.key}
            for m in run["outputs"][run["topics"]["TOPIC_DEADLETTER"]]]


def _expected(run: dict[str, Any]) -> dict[Placed, Poison]:
    return {where: item for where, item in zip(run["placed"], run["origin"], strict=True)
            if item is not None}


def test_the_corpus_has_every_kind_of_bad_input(poison_run: dict[str, Any]) -> None:
    kinds = collections.Counter(p.kind for p in poison_run["poison"])
    assert kinds == {**BASE_COUNTS, **LARGE_COUNTS}
    assert sum(kinds.values()) >= 10_000
    assert {p.topic for p in poison_run["poison"]} == {
        poison_run["topics"]["TOPIC_TRANSACTIONS"], poison_run["topics"]["TOPIC_PAYMENTS"]}


def test_the_worker_never_exits_and_stays_ready(poison_run: dict[str, Any]) -> None:
    watch = poison_run["watch"]
    assert poison_run["exit_code"] is None, poison_run["log"][-5000:]
    assert not watch.exited
    assert watch.polls > 0
    assert watch.failures == []
    # a crashed agent is restarted by faust's supervisor without the process exiting: that
    # would lose its batch, so it must not happen either
    assert "Crashed reason=" not in poison_run["log"]
    assert poison_run["metrics"]["predelinq_ready"] == 1


def test_every_bad_record_is_dead_lettered_exactly_once_with_its_reason_and_bytes(
        poison_run: dict[str, Any]) -> None:
    expected = _expected(poison_run)
    letters = _dead_letters(poison_run)
    where = collections.Counter((d["source_topic"], d["source_partition"], d["source_offset"])
                                for d in letters)
    twice = sorted((at, expected[at].kind) for at, n in where.items()
                   if n > 1 and at in expected)
    missing = sorted((at, item.kind) for at, item in expected.items() if at not in where)
    assert not twice, f"dead-lettered more than once: {twice[:20]}"
    assert not missing, f"{len(missing)} bad records never dead-lettered: {missing[:20]}"
    assert set(where) == set(expected), "dead letters of records that were not bad"
    for letter in letters:
        item = expected[(letter["source_topic"], letter["source_partition"],
                         letter["source_offset"])]
        context = (item.kind, letter["error_message"])
        assert letter["reason"] == item.reason, context
        assert letter["error_class"].endswith("Error"), context
        assert letter["error_message"], context
        if item.kind in LEFT_OUT:  # kept: reason and offset; left out: the bytes, said so
            assert letter["raw"] is None, context
            assert "left out" in letter["error_message"], context
        else:
            assert letter["raw"] == item.value, context
            assert letter["key"] == item.key, context
            assert letter["_key"] == item.key, context
            assert "left out" not in letter["error_message"], context


def test_every_good_event_gives_exactly_one_event_triggered_risk_event(
        poison_run: dict[str, Any]) -> None:
    scores = [DECODER.decode(RecordType.RISK_SCORE, m.value)
              for m in poison_run["outputs"][poison_run["topics"]["TOPIC_RISK_SCORES"]]]
    triggers = collections.Counter((s["customer_id"], s["trigger_event_id"]) for s in scores
                                   if s["trigger_topic"] != TIMER_TOPIC)
    good = {(r["customer_id"], r["event_id"]) for r in poison_run["records"]}
    missing = sorted(good - set(triggers))
    assert not missing, f"{len(missing)} good events never scored: {missing[:20]}"
    assert set(triggers) == good
    assert max(triggers.values()) == 1
    assert not any(s["trigger_event_id"].startswith("poison-") for s in scores)


def test_metrics_count_the_dead_letters_per_topic_and_reason(
        poison_run: dict[str, Any]) -> None:
    metrics = poison_run["metrics"]
    expected = collections.Counter((p.topic, p.reason) for p in poison_run["poison"])
    exposed = {key: value for key, value in metrics.items()
               if key.startswith("predelinq_dead_letters_total{")}
    assert exposed == {f'predelinq_dead_letters_total{{reason="{reason}",topic="{topic}"}}':
                       float(count) for (topic, reason), count in expected.items()}
    consumed = collections.Counter(topic for topic, _, _ in poison_run["placed"])
    for topic, count in consumed.items():
        assert metrics[f'predelinq_input_records_total{{topic="{topic}"}}'] == count

"""One feature code, two paths: the Kafka worker and offline replay agree.

* parity: for every customer, the feature vector behind the worker's last event-triggered
  risk event equals the replay's final vector (same events, same as-of), compared through the
  ``features_sha256`` every risk event carries;
* absence: a customer whose salary stops is rescored by the worker once its partition's event
  time passes the deadline, with the same vector replay computes at that instant.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

from stream_app.events import RecordType
from stream_app.features import Deadline
from stream_app.offline import replay_events
from stream_app.processing import TIMER_TOPIC, vector_sha256
from stream_app.serializers import OutputDecoder, SchemaCatalog
from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import assert_last_scores_match_replay, simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4
T0 = 1_767_225_600_000
DAY = 86_400_000



def _run(kafka: Any, trained: TrainedFixture, tmp_path: Path,
         records: list[dict[str, Any]], expected_scores: int) -> list[dict[str, Any]]:
    topics = unique_topics("parity")
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "MODEL_PATH": str(trained.path), "TOPIC_PARTITIONS": str(PARTITIONS),
           "ENABLE_INTERVENTIONS": "false"}
    with WorkerProcess(env, tmp_path) as worker:
        worker.wait_ready()
        asyncio.run(produce(kafka.bootstrap_servers, encode_inputs(records, topics)))
        scores_topic = topics["TOPIC_RISK_SCORES"]
        got = asyncio.run(consume_until(
            kafka.bootstrap_servers, [scores_topic],
            lambda r: len(r[scores_topic]) >= expected_scores, timeout=240, settle=3.0))
    decoder = OutputDecoder(SchemaCatalog.default())
    return [decoder.decode(RecordType.RISK_SCORE, m.value) for m in got[scores_topic]]


def test_worker_and_replay_compute_identical_final_features(
        kafka_broker: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    records = simulated(customers=100, days=100, seed=33)
    scores = _run(kafka_broker, trained, tmp_path, records, expected_scores=len(records))
    event_scores = [s for s in scores if s["trigger_topic"] != TIMER_TOPIC]
    assert len(event_scores) == len(records)
    # consumed in partition order: a customer's last one wins
    assert_last_scores_match_replay(records, event_scores)


def _same_partition_as(customer: str, candidates: int = 500) -> str:
    target = (murmur2(customer.encode()) & 0x7FFFFFFF) % PARTITIONS
    for i in range(candidates):
        other = f"QUIET-NEIGHBOUR-{i}"
        if (murmur2(other.encode()) & 0x7FFFFFFF) % PARTITIONS == target:
            return other
    raise AssertionError("no neighbour found")


def _salary_log(quiet: str, busy: str) -> list[dict[str, Any]]:
    def tx(customer: str, day: int, category: str, direction: str,
           amount: int) -> dict[str, Any]:
        return {"type": "transaction", "event_id": f"{customer}-{day}", "customer_id": customer,
                "account_id": f"A-{customer}", "occurred_at": T0 + day * DAY + 9 * 3_600_000,
                "amount_minor": amount, "currency": "EUR", "direction": direction,
                "channel": "TRANSFER", "category": category, "status": "POSTED",
                "merchant_category_code": None, "decline_reason": None,
                "balance_after_minor": 20_000, "counterparty": None}

    records = []
    for day in range(120):
        if day in (0, 30, 60):
            records.append(tx(quiet, day, "SALARY", "CREDIT", 300_000))
        records.append(tx(busy, day, "GROCERIES", "DEBIT", 2_500))
    return records


def test_worker_rescores_a_missed_salary_like_replay(
        kafka_broker: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    quiet = "CUST-SALARY-STOPS"
    records = _salary_log(quiet, _same_partition_as(quiet))
    replay_timers = [r for r in replay_events(records) if r.trigger.startswith(Deadline.SALARY)]
    assert len(replay_timers) == 1
    scores = _run(kafka_broker, trained, tmp_path, records, expected_scores=len(records) + 1)
    timers = [s for s in scores if s["trigger_topic"] == TIMER_TOPIC]
    assert [(s["customer_id"], s["trigger_event_id"]) for s in timers] == [
        (quiet, replay_timers[0].trigger)]
    assert timers[0]["as_of"] == replay_timers[0].as_of
    assert timers[0]["features_sha256"] == vector_sha256(replay_timers[0].vector)

"""The worker as a real subprocess against a real Apache Kafka broker.

Produces ~120 simulated customers' events (Avro and some JSON), a few re-deliveries and a set
of malformed records, then checks every output topic and the sidecar's /ready and /metrics.
"""

from __future__ import annotations

import asyncio
import collections
import random
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from stream_app.events import RecordType
from stream_app.features import FEATURES, MAX_DEDUP_IDS
from stream_app.offline import replay_events
from stream_app.processing import TIMER_TOPIC
from stream_app.serializers import AvroCodec, OutputDecoder, SchemaCatalog
from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]



def _threshold(records: list[dict[str, Any]], trained: TrainedFixture) -> int:
    """An intervention threshold that a few percent of this scenario's pre-delinquency scores
    reach, computed offline with the same model (a small test model rarely scores high)."""
    rows = list(replay_events(records))
    scored = trained.model.score(np.asarray([row.vector for row in rows], dtype=np.float64))
    scores = sorted(int(s) for s in scored.scores[~scored.arrears])  # pre-delinquency scores
    threshold = max(1, scores[int(len(scores) * 0.97)])
    assert scores[0] < threshold <= scores[-1]
    return threshold

REASON_CODES = {f.reason_code: f.name for f in FEATURES}


def _malformed(topics: dict[str, str], sample: dict[str, Any]) -> list[tuple[str, bytes | None,
                                                                            bytes, str]]:
    """(topic, key, value, expected reason) for each kind of bad input."""
    codec = AvroCodec(SchemaCatalog.default())
    body = {k: v for k, v in sample.items() if k != "type"}
    good = codec.encode(RecordType.TRANSACTION, body)
    tx = topics["TOPIC_TRANSACTIONS"]
    pay = topics["TOPIC_PAYMENTS"]
    key = body["customer_id"].encode()
    bad: list[tuple[str, bytes | None, bytes, str]] = [
        (tx, key, b"\xff\xfe not a record", "malformed_frame"),
        (tx, key, b"\x00\x00\x00", "malformed_frame"),
        (tx, key, b"\x00\x00\x00\x03\xe7" + good[5:], "unknown_schema_id"),
        (tx, key, good[:-4], "avro_body"),
        (tx, key, good + b"\x00\x01", "avro_body"),
        (pay, key, good, "schema_mismatch"),
        (tx, key, b'{"event_id": "x", "customer_id": ', "json_body"),
        (tx, key, b"{\xc3\x28}", "json_body"),
        (tx, key, orjson.dumps({**body, "event_id": "bad-1", "amount_minor": -5}),
         "invalid_value"),
        (tx, key, orjson.dumps({**body, "event_id": "bad-2", "currency": "euro"}),
         "invalid_value"),
        (tx, key, orjson.dumps({k: v for k, v in body.items() if k != "occurred_at"}),
         "missing_field"),
        (tx, key, orjson.dumps({**body, "event_id": "bad-3", "amount_minor": "12"}),
         "wrong_type"),
        (tx, b"someone-else", orjson.dumps({**body, "event_id": "bad-4"}), "key_mismatch"),
        (tx, None, orjson.dumps({**body, "event_id": "bad-5"}), "key_mismatch"),
    ]
    return bad


def _run_worker_scenario(
    kafka: Any, trained: TrainedFixture, tmp_path: Path, *, customers: int, days: int,
    enable_interventions: bool,
) -> dict[str, Any]:
    topics = unique_topics()
    records = simulated(customers, days, seed=21)
    valid = encode_inputs(records, topics, json_share=0.1)
    # re-deliveries of recent events: of the last tenth of the stream (inside the lateness
    # bound) and within the newest MAX_DEDUP_IDS of their customer and source, where
    # duplicates are recognised (an older re-delivery is applied again, see docs/features.md;
    # one beyond the lateness bound is dead-lettered as late)
    later: collections.Counter[tuple[str, bytes]] = collections.Counter()
    recent = []
    for topic, key, value in reversed(valid[-len(valid) // 10:]):
        if topic != topics["TOPIC_CUSTOMER_FLAGS"] and later[topic, key] < MAX_DEDUP_IDS - 1:
            recent.append((topic, key, value))
        later[topic, key] += 1
    redelivered = random.Random(9).sample(recent, 25)
    bad = _malformed(topics, next(r for r in records if r["type"] == "transaction"))
    threshold = _threshold(records, trained)
    env = {
        **topics,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MODEL_PATH": str(trained.path),
        "TOPIC_PARTITIONS": "4",
        "ENABLE_INTERVENTIONS": "true" if enable_interventions else "false",
        "AUTO_TRIGGER_THRESHOLD": str(threshold),
        "BATCH_SIZE": "200",
    }
    with WorkerProcess(env, tmp_path) as worker:
        ready = worker.wait_ready()
        assert ready["ready"] is True
        # bad records in the middle of the good ones: the worker must keep going
        half = len(valid) // 2
        stream = [*valid[:half], *[(t, k, v) for t, k, v, _ in bad], *valid[half:],
                  *redelivered]
        asyncio.run(produce(kafka.bootstrap_servers, stream))
        output_topics = [topics["TOPIC_RISK_SCORES"], topics["TOPIC_INTERVENTIONS"],
                         topics["TOPIC_DEADLETTER"]]
        outputs = asyncio.run(consume_until(
            kafka.bootstrap_servers, output_topics,
            lambda got: (len(got[output_topics[0]]) >= len(valid)
                         and len(got[output_topics[2]]) >= len(bad)),
            timeout=240, settle=5.0))  # absence rescorings count too: settle for the rest
        metrics = worker.metrics()
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log_tail()
    return {"topics": topics, "records": records, "threshold": threshold, "valid": valid,
            "bad": bad, "redelivered": redelivered, "outputs": outputs, "metrics": metrics,
            "output_topics": output_topics}


def _decode_all(scenario: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                   list[dict[str, Any]]]:
    decoder = OutputDecoder(SchemaCatalog.default())
    scores_topic, interventions_topic, dead_topic = scenario["output_topics"]
    out = scenario["outputs"]
    scores = [decoder.decode(RecordType.RISK_SCORE, m.value) | {"_key": m.key}
              for m in out[scores_topic]]
    interventions = [decoder.decode(RecordType.INTERVENTION, m.value) | {"_key": m.key}
                     for m in out[interventions_topic]]
    dead = [decoder.decode(RecordType.DEADLETTER, m.value) for m in out[dead_topic]]
    return scores, interventions, dead


@pytest.fixture(scope="module")
def enabled_run(kafka_broker: Any, trained: TrainedFixture,
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_worker_scenario(kafka_broker, trained, tmp_path_factory.mktemp("enabled"),
                                customers=120, days=130, enable_interventions=True)


def test_one_risk_event_per_valid_input_event(enabled_run: dict[str, Any],
                                              trained: TrainedFixture) -> None:
    scores, _, _ = _decode_all(enabled_run)
    records = enabled_run["records"]
    by_id = {(r["customer_id"], r["event_id"]) for r in records}
    event_scores = [s for s in scores if s["trigger_topic"] != TIMER_TOPIC]
    triggers = collections.Counter((s["customer_id"], s["trigger_event_id"])
                                   for s in event_scores)
    assert set(triggers) == by_id  # every valid event scored, nothing else
    assert max(triggers.values()) == 1  # re-deliveries were deduplicated, not scored again
    for score in scores:
        assert score["_key"] == score["customer_id"].encode()
        assert score["model_version"] == trained.model.version
        assert 0 <= score["score"] <= 100
        for reason in score["top_reasons"]:
            assert REASON_CODES[reason["code"]] == reason["feature"]
        if score["track"] == "ARREARS":  # the roll-rate table's probability and rules
            assert score["probability"] == score["roll_probability"]
            assert score["score"] == int(score["probability"] * 100 + 0.5)
            assert score["days_past_due"] is not None
            assert score["top_reasons"][0]["code"] == "R_PAST_DUE"
            continue
        assert score["track"] == "PRE_DELINQUENCY"
        assert (score["days_past_due"], score["roll_probability"]) == (0, None)
        # the risk rank of the calibrated probability on the model's score scale
        assert score["score"] == int(trained.model.scale.scores(
            np.asarray([score["probability"]]))[0])
        contributions = [r["contribution"] for r in score["top_reasons"]]
        assert contributions == sorted(contributions, reverse=True)
        assert all(c > 0 for c in contributions)
    assert len({s["event_id"] for s in scores}) == len(scores)
    assert any(s["top_reasons"] for s in scores)


def test_interventions_exactly_for_scores_at_or_above_threshold(
        enabled_run: dict[str, Any]) -> None:
    scores, interventions, _ = _decode_all(enabled_run)
    # a pre-delinquency score at or above the threshold, and every arrears score (its own
    # action family, whatever the threshold)
    expected = {(s["customer_id"], s["trigger_event_id"]) for s in scores
                if s["track"] == "ARREARS" or s["score"] >= enabled_run["threshold"]}
    assert expected, "the scenario must contain scores at or above the threshold"
    assert len(expected) < len(scores)
    got = collections.Counter((i["customer_id"], i["trigger_event_id"]) for i in interventions)
    assert set(got) == expected
    assert max(got.values()) == 1
    by_trigger = {(s["customer_id"], s["trigger_event_id"]): s for s in scores}
    for item in interventions:
        score = by_trigger[(item["customer_id"], item["trigger_event_id"])]
        assert item["score"] == score["score"]
        assert item["band"] == score["band"]
        assert item["reasons"] == score["top_reasons"]
        assert (item["track"], item["days_past_due"]) == (score["track"],
                                                          score["days_past_due"])
        assert item["experiment_arm"] in ("TREATMENT", "CONTROL")
        assert item["actionable"] == (item["experiment_arm"] == "TREATMENT"
                                      and item["rule"] in (None, "vulnerable"))
        assert len(item["features"]) == len(FEATURES)
        assert item["expires_at"] > item["created_at"]


def test_malformed_records_go_to_the_dead_letter_topic_with_reasons(
        enabled_run: dict[str, Any]) -> None:
    _, _, dead = _decode_all(enabled_run)
    bad = enabled_run["bad"]
    assert len(dead) == len(bad)
    assert sorted(d["reason"] for d in dead) == sorted(reason for *_, reason in bad)
    sent = {(value, reason) for _, _, value, reason in bad}
    for letter in dead:
        assert (letter["raw"], letter["reason"]) in sent
        assert letter["error_message"]
        assert letter["source_offset"] >= 0


def test_metrics_count_what_was_produced(enabled_run: dict[str, Any]) -> None:
    metrics = enabled_run["metrics"]
    topics = enabled_run["topics"]
    scores, interventions, dead = _decode_all(enabled_run)
    consumed = collections.Counter(t for t, _, _ in enabled_run["valid"])
    consumed.update(t for t, _, _ in enabled_run["redelivered"])
    consumed.update(t for t, _, _, _ in enabled_run["bad"])
    for name in ("TOPIC_TRANSACTIONS", "TOPIC_PAYMENTS"):
        topic = topics[name]
        assert metrics[f'predelinq_input_records_total{{topic="{topic}"}}'] == consumed[topic]
    score_total = sum(v for k, v in metrics.items() if k.startswith("predelinq_scores_total{"))
    assert score_total == len(scores)
    intervention_total = sum(v for k, v in metrics.items()
                             if k.startswith("predelinq_interventions_total{"))
    assert intervention_total == len(interventions)
    dead_total = sum(v for k, v in metrics.items()
                     if k.startswith("predelinq_dead_letters_total{"))
    assert dead_total == len(dead)
    # produced again: new offsets, recognised by their event ids (a producer's retry)
    assert metrics['predelinq_duplicate_events_total{kind="event_id"}'] == len(
        enabled_run["redelivered"])
    assert metrics["predelinq_model_loaded"] == 1
    assert metrics["predelinq_ready"] == 1
    assert metrics["predelinq_batch_duration_seconds_count"] > 0
    # no customer id ever appears in the metrics
    customer_ids = {r["customer_id"] for r in enabled_run["records"]}
    assert not any(c in key for key in metrics for c in customer_ids)


def test_no_interventions_when_disabled(kafka_broker: Any, trained: TrainedFixture,
                                       tmp_path: Path) -> None:
    # fewer customers than the enabled run: the threshold is this run's own 97th percentile,
    # so qualifying scores exist at any size
    run = _run_worker_scenario(kafka_broker, trained, tmp_path, customers=60, days=130,
                               enable_interventions=False)
    scores, interventions, _ = _decode_all(run)
    assert len([s for s in scores if s["trigger_topic"] != TIMER_TOPIC]) == len(run["records"])
    assert any(s["score"] >= run["threshold"] for s in scores), "needs qualifying scores"
    assert interventions == []

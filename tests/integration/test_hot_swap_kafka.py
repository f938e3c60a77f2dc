"""A running worker follows the registry: champion swapped without a restart, challenger
scored in shadow, drift exported."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from model_registry import promote
from stream_app.events import RecordType
from stream_app.processing import TIMER_TOPIC
from stream_app.serializers import OutputDecoder, SchemaCatalog
from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_champion_swaps_without_restart_and_challenger_scores_in_shadow(
        kafka_broker: Any, trained: TrainedFixture, second_model: TrainedFixture,
        tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(trained.registry, registry, symlinks=True)
    first, second = trained.model.version, second_model.model.version
    promote(registry, first, "champion")
    promote(registry, second, "challenger")
    topics = unique_topics("swap")
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
           "MODEL_PATH": str(registry / "champion"),
           "CHALLENGER_MODEL_PATH": str(registry / "challenger"),
           "MODEL_WATCH_INTERVAL_SECONDS": "0.5", "TOPIC_PARTITIONS": "2",
           "ENABLE_INTERVENTIONS": "false"}
    records = simulated(customers=60, days=90, seed=44)
    half = len(records) // 2
    inputs = encode_inputs(records, topics)
    scores_topic = topics["TOPIC_RISK_SCORES"]

    def event_scores(got: dict[str, list[Any]]) -> int:
        return len(got[scores_topic])

    with WorkerProcess(env, tmp_path / "worker") as worker:
        worker.wait_ready()
        pid = worker.process.pid if worker.process else None
        asyncio.run(produce(kafka_broker.bootstrap_servers, inputs[:half]))
        asyncio.run(consume_until(kafka_broker.bootstrap_servers, [scores_topic],
                                  lambda got: event_scores(got) >= half, timeout=120,
                                  settle=0.5))
        promote(registry, second, "champion")  # the alias moves while the worker runs
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if worker.metrics().get('predelinq_model_swaps_total{slot="champion"}') == 1:
                break
            time.sleep(0.3)
        asyncio.run(produce(kafka_broker.bootstrap_servers, inputs[half:]))
        got = asyncio.run(consume_until(kafka_broker.bootstrap_servers, [scores_topic],
                                        lambda got: event_scores(got) >= len(records),
                                        timeout=180, settle=3.0))
        metrics = worker.metrics()
        assert worker.process is not None
        assert worker.process.pid == pid
        assert worker.process.poll() is None  # no restart
    decoder = OutputDecoder(SchemaCatalog.default())
    scores = [decoder.decode(RecordType.RISK_SCORE, m.value) for m in got[scores_topic]]
    by_trigger = {s["trigger_event_id"]: s for s in scores if s["trigger_topic"] != TIMER_TOPIC}
    first_half = {r["event_id"] for r in records[:half]}
    assert {by_trigger[e]["model_version"] for e in first_half} == {first}
    assert {by_trigger[r["event_id"]]["model_version"] for r in records[half:]} == {second}
    assert metrics['predelinq_model_swaps_total{slot="champion"}'] == 1
    assert metrics['predelinq_model_info{feature_code_matches="true",version="' + second
                   + '"}'] == 1
    # the challenger was scored in shadow on every event of the first half
    assert {by_trigger[e]["challenger_model_version"] for e in first_half} == {second}
    assert all(by_trigger[e]["challenger_score"] is not None for e in first_half)
    shadow_total = sum(v for k, v in metrics.items()
                       if k.startswith("predelinq_challenger_scores_total{"))
    assert shadow_total >= len(first_half)
    # drift of the score and the top features against the champion's training baseline
    psi = {k: v for k, v in metrics.items() if k.startswith("predelinq_drift_psi{")}
    assert 'predelinq_drift_psi{subject="score"}' in psi
    assert len(psi) == 6
    assert all(v >= 0 for v in psi.values())

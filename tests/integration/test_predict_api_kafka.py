"""`POST /predict` on a group of two workers: any worker answers for any customer (the one
that owns the customer's partition scores it; the other forwards the call)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "integration-test-api-key-0123456789"


def _post(port: int, customer: str, key: str | None = KEY) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/predict", method="POST",
        data=json.dumps({"customer_id": customer}).encode(),
        headers={"Content-Type": "application/json", **({"X-API-Key": key} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_any_worker_answers_predict_for_any_customer(
        kafka_broker: Any, trained: TrainedFixture, tmp_path: Path) -> None:
    topics = unique_topics("predict")
    records = simulated(customers=40, days=60, seed=51)
    inputs = encode_inputs(records, topics)
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
           "MODEL_PATH": str(trained.path), "TOPIC_PARTITIONS": "4", "API_KEY": KEY,
           "CACHE_TTL": "0",
           # forwards go over http between the workers: signed, never with the caller's key
           "FORWARD_SECRET": "integration-forward-secret-0123456789"}
    with WorkerProcess(env, tmp_path / "a") as first, WorkerProcess(env, tmp_path / "b") as second:
        first.wait_ready()
        second.wait_ready()
        deadline = time.monotonic() + 60  # both must hold partitions
        while time.monotonic() < deadline:
            counts = [w.metrics().get("predelinq_assigned_partitions", 0) for w in (first, second)]
            ready = [w.get("/ready")[0] for w in (first, second)]
            if all(c > 0 for c in counts) and ready == [200, 200]:
                break
            time.sleep(0.5)
        assert all(c > 0 for c in counts), counts
        asyncio.run(produce(kafka_broker.bootstrap_servers, inputs))
        scores_topic = topics["TOPIC_RISK_SCORES"]
        asyncio.run(consume_until(kafka_broker.bootstrap_servers, [scores_topic],
                                  lambda got: len(got[scores_topic]) >= len(records),
                                  timeout=120, settle=1.0))
        customers = sorted({r["customer_id"] for r in records})
        for customer in customers:
            status_a, answer_a = _post(first.port, customer)
            status_b, answer_b = _post(second.port, customer)
            assert (status_a, status_b) == (200, 200), (answer_a, answer_b)
            answer_a.pop("cached", None)
            answer_b.pop("cached", None)
            assert answer_a == answer_b
            assert answer_a["customer_id"] == customer
            assert answer_a["model_version"] == trained.model.version
        assert _post(first.port, "NOBODY-AT-ALL")[0] == 404
        assert _post(second.port, "NOBODY-AT-ALL")[0] == 404
        assert _post(first.port, customers[0], key=None)[0] == 401
        assert _post(first.port, customers[0], key="wrong")[0] == 401

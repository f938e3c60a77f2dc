"""The worker's logs with LOG_FORMAT=json, from start to stop on a real broker: every line is
one JSON object with the timestamp, level, logger and message, including what is logged
while the worker is built (before faust takes over logging), and none names a customer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.kafka_io import consume_until, encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import simulated
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_log_line_is_a_json_record(kafka_broker: Any, trained: TrainedFixture,
                                         tmp_path: Path) -> None:
    topics = unique_topics("jsonlog")
    records = simulated(customers=10, days=20, seed=8)
    env = {**topics, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
           "MODEL_PATH": str(trained.path), "TOPIC_PARTITIONS": "2", "LOG_FORMAT": "json"}
    with WorkerProcess(env, tmp_path) as worker:
        worker.wait_ready()
        sent = asyncio.run(produce(kafka_broker.bootstrap_servers,
                                   encode_inputs(records, topics)))
        scores = topics["TOPIC_RISK_SCORES"]
        asyncio.run(consume_until(kafka_broker.bootstrap_servers, [scores],
                                  lambda got: len(got[scores]) >= sent, timeout=60))
        assert worker.stop() == 0
    lines = [line for line in worker.log_path.read_text().splitlines() if line.strip()]
    assert len(lines) > 20
    parsed = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    for record in parsed:
        assert {"timestamp", "level", "logger", "message"} <= set(record), record
        assert record["timestamp"].endswith("Z")
    loggers = {record["logger"] for record in parsed}
    assert {"faust.worker", "stream_app.sidecar._server"} <= loggers
    assert any(record["level"] == "WARNING" and record["logger"] == "stream_app.sidecar.api"
               for record in parsed)  # logged while the worker is built
    assert not any("CUST-" in line for line in lines)

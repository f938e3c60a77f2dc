"""exactly_once: each output joins the transaction of its input partition, under faust's
transactional id for that partition as of the latest assignment."""

from __future__ import annotations

from pathlib import Path

from faust.types import TP

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from tests.support.models import TrainedFixture


def _runtime(trained: TrainedFixture, tmp_path: Path) -> WorkerRuntime:
    settings = Settings(  # type: ignore[call-arg]
        app_name="tx-test", kafka_bootstrap_servers="127.0.0.1:1",
        processing_guarantee="exactly_once", state_dir=str(tmp_path),
        model_path=str(trained.path))
    return WorkerRuntime(settings, trained.model)


def test_the_transactional_id_follows_the_topic_groups_of_each_assignment(
        trained: TrainedFixture, tmp_path: Path) -> None:
    """The assignor numbers the topic groups afresh at every assignment (here as its
    ``on_assignment`` sets them); a topic more in the subscription shifts them. A worker that
    kept the first number sent to a producer faust had stopped, and crashed (2026-12-02)."""
    runtime = _runtime(trained, tmp_path)
    assignor = runtime.app.assignor
    topics = runtime.settings.input_topics
    assignor._topic_groups = dict.fromkeys(topics, 0)  # type: ignore[attr-defined]
    assert runtime.transactional_id(3) == "tx-test-0-3"
    shifted = {"other-topic": 0, **dict.fromkeys(topics, 1)}
    assignor._topic_groups = shifted  # type: ignore[attr-defined]
    assert runtime.transactional_id(3) == "tx-test-1-3"
    # the name faust's own transaction manager gives the producer it starts for partition 3
    manager = runtime.app.consumer.transactions
    assert manager._tps_to_transactional_ids({TP(topics[0], 3)}) == {"tx-test-1-3"}

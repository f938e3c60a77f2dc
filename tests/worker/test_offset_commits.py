"""The worker's commit of processed input offsets (at-least-once): a failed commit is counted
and tried again at the next commit instead of being forgotten until more records arrive; a
commit refused during a rebalance is dropped (the rebalance commits and starts a new ledger).
The consumer stands in for the broker's answers (a Kafka error on the first attempt)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiokafka.errors import RequestTimedOutError
from aiokafka.structs import TopicPartition

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from tests.support.models import TrainedFixture

TX, PAY = TopicPartition("bank.transactions.v1", 0), TopicPartition("bank.payments.v1", 0)


class Consumer:
    """Answers commits as the broker would: an error for the first ``failures``, then
    ``answer`` (False: faust's assignment check refused them, a rebalance is on)."""

    def __init__(self, failures: int, answer: bool = True) -> None:
        self.failures = failures
        self.answer = answer
        self.commits: list[dict[Any, int]] = []

    async def _commit_offsets(self, offsets: dict[Any, int]) -> bool:
        self.commits.append(dict(offsets))
        if self.failures:
            self.failures -= 1
            raise RequestTimedOutError()
        return self.answer


def _runtime(trained: TrainedFixture, tmp_path: Path, consumer: Consumer) -> WorkerRuntime:
    settings = Settings(  # type: ignore[call-arg]
        app_name="commit-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="memory://", state_dir=str(tmp_path), model_path=str(trained.path),
        topic_partitions=1)
    runtime = WorkerRuntime(settings, trained.model)
    runtime.app.consumer = consumer  # type: ignore[assignment]
    return runtime


def _failures(runtime: WorkerRuntime) -> float:
    return runtime.metrics.registry.get_sample_value(
        "predelinq_offset_commit_failures_total") or 0.0


def test_a_failed_commit_is_counted_and_tried_again(trained: TrainedFixture,
                                                   tmp_path: Path) -> None:
    consumer = Consumer(failures=1)
    runtime = _runtime(trained, tmp_path, consumer)
    runtime._ledger.processed(TX, 41)
    runtime._ledger.processed(PAY, 7)
    assert asyncio.run(runtime._commit()) == 0
    assert _failures(runtime) == 1
    # no new record since: the next commit sends the same offsets again
    assert asyncio.run(runtime._commit()) == 2
    assert consumer.commits == [{TX: 42, PAY: 8}, {TX: 42, PAY: 8}]
    assert not runtime._ledger
    assert asyncio.run(runtime._commit()) == 0  # nothing left to commit
    assert len(consumer.commits) == 2


def test_a_commit_refused_during_a_rebalance_is_dropped(trained: TrainedFixture,
                                                       tmp_path: Path) -> None:
    consumer = Consumer(failures=0, answer=False)
    runtime = _runtime(trained, tmp_path, consumer)
    runtime._ledger.processed(TX, 3)
    assert asyncio.run(runtime._commit()) == 0
    assert not runtime._ledger
    assert _failures(runtime) == 0

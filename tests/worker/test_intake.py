"""The intake between faust's consumer and the batch loop: order, batching, back-pressure."""

from __future__ import annotations

import asyncio

import pytest

from stream_app.worker._intake import Intake

TOPICS = frozenset({"bank.transactions.v1"})


async def test_records_come_out_in_batches_in_arrival_order() -> None:
    intake = Intake(TOPICS, max_buffered=100)
    for i in range(25):
        intake.put(i)
    assert await intake.take(10, within=0.0, idle=1.0) == list(range(10))
    assert await intake.take(10, within=0.0, idle=1.0) == list(range(10, 20))
    assert await intake.take(10, within=0.0, idle=1.0) == list(range(20, 25))
    assert len(intake) == 0


async def test_an_idle_intake_gives_an_empty_batch_after_the_idle_timeout() -> None:
    intake = Intake(TOPICS, max_buffered=10)
    assert await intake.take(10, within=0.05, idle=0.05) == []


async def test_a_batch_waits_within_the_window_for_more_records() -> None:
    intake = Intake(TOPICS, max_buffered=100)
    intake.put("first")

    async def later() -> None:
        await asyncio.sleep(0.02)
        intake.put("second")

    feeder = asyncio.create_task(later())
    batch = await intake.take(2, within=5.0, idle=1.0)  # full at 2: no need to wait 5 s
    await feeder
    assert batch == ["first", "second"]


async def test_the_first_record_ends_the_idle_wait() -> None:
    intake = Intake(TOPICS, max_buffered=100)
    asyncio.get_running_loop().call_later(0.02, intake.put, "r")
    assert await intake.take(5, within=0.0, idle=10.0) == ["r"]


async def test_a_full_intake_makes_the_consumer_wait_for_room() -> None:
    intake = Intake(TOPICS, max_buffered=3)
    for i in range(3):
        intake.put(i)
    assert intake.full
    waiting = asyncio.create_task(intake.wait_room())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the drain loop waits here instead of fetching more
    assert await intake.take(2, within=0.0, idle=1.0) == [0, 1]
    await asyncio.wait_for(waiting, 1.0)
    assert not intake.full


async def test_clearing_drops_everything_buffered_and_makes_room() -> None:
    intake = Intake(TOPICS, max_buffered=2)
    intake.put("a")
    intake.put("b")
    assert intake.clear() == 2
    assert not intake.full
    assert await intake.take(5, within=0.0, idle=0.01) == []


def test_a_buffer_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Intake(TOPICS, max_buffered=0)

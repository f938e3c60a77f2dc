"""The py-spy sample summary of bench/profile_worker.py."""

from __future__ import annotations

from bench.profile_worker import family, summarise

FOLDED = [
    "run (asyncio/base_events.py:600);handle_batch (stream_app/worker/_runtime.py:500);"
    "process (stream_app/processing/_processor.py:341);"
    "feature_vector (stream_app/features/_vector.py:63) 30",
    "run (asyncio/base_events.py:600);getmany (faust/transport/consumer.py:693) 10",
    "run (asyncio/base_events.py:600);handle_batch (stream_app/worker/_runtime.py:500);"
    "send (aiokafka/producer/producer.py:400) 10",
    "<module> (bench.py:1) 0",  # no samples
    "garbage",
]


def test_frames_are_named_by_the_part_of_the_system_they_belong_to() -> None:
    assert family("feature_vector (stream_app/features/_vector.py:63)").startswith("features")
    assert family("getmany (faust/transport/consumer.py:693)") == "faust"
    assert family("<lambda> (somewhere.py:1)") == "other"


def test_samples_are_summed_per_leaf_and_per_innermost_known_part() -> None:
    leaves, families, total = summarise(FOLDED)
    assert total == 50
    assert leaves["feature_vector (stream_app/features/_vector.py:63)"] == 30
    assert families == {"features (state, vector, codec)": 30, "faust": 10, "aiokafka": 10}

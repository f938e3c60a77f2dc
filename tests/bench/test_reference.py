"""The benchmarks' output check (bench/_reference.py): the comparison in both directions, the
engine's merge order of a customer's topics, and the reference itself on simulated events
with a stand-in model. No Kafka."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bench._reference import (
    TIMER_TOPIC,
    Expected,
    check_scores,
    customer_tag,
    engine_order,
    expected_scores,
    published_score,
    summary_line,
)
from bench.compare import reference_note

_REASONS = (("R1", "f1", 1.0, 0.25, "text"),)


def _score(sha: str = "a", score: int = 40, probability: float = 0.1) -> Expected:
    return Expected(sha, score, probability, _REASONS, 5)


def test_equal_outputs_pass_and_are_counted() -> None:
    expected = {("c1", "tx", "e1"): _score(), ("c1", "tx", "e2"): _score("b"),
                ("c1", TIMER_TOPIC, "salary-missed@9"): _score("t")}
    published = [(("c1", "tx", "e1"), _score()), (("c1", "tx", "e2"), _score("b")),
                 (("c1", "tx", "e2"), _score("b")),  # an equal redelivery
                 (("c1", TIMER_TOPIC, "salary-missed@9"), _score("t")),
                 (("c1", TIMER_TOPIC, "due-soon@7"), _score("u"))]
    check = check_scores(expected, published)
    assert check.ok
    assert (check.expected, check.published, check.equal, check.duplicates) == (2, 3, 2, 1)
    assert (check.timers_expected, check.timers_published, check.timers_keyed,
            check.timers_equal) == (1, 2, 1, 1)
    assert summary_line(check.to_json()).startswith("outputs equal the reference: 2 / 2;")


def test_every_kind_of_difference_fails_in_both_directions() -> None:
    expected = {("c1", "tx", f"e{i}"): _score() for i in range(6)}
    published = [
        (("c1", "tx", "e0"), _score()),
        (("c1", "tx", "e1"), _score("other")),  # features
        (("c1", "tx", "e2"), _score(score=41)),
        (("c1", "tx", "e3"), _score(probability=0.1 + 1e-17 + 2e-17)),  # one ulp off
        (("c1", "tx", "e4"), replace(_score(), reasons=(("R2", "f2", 1.0, 0.25, "text"),))),
        (("c1", "tx", "x9"), _score()),  # not expected; e5 never published
    ]
    check = check_scores(expected, published, show=10)
    assert not check.ok
    assert (check.equal, check.differing, check.unexpected, check.missing) == (1, 4, 1, 1)
    kinds = [e["kind"] for e in check.examples]
    assert kinds.count("differs") == 4
    assert "not expected" in kinds
    assert "not published" in kinds
    fields = [e["fields"] for e in check.examples if e["kind"] == "differs"]
    assert fields == [["features_sha256"], ["score"], ["probability"], ["reasons"]]
    assert all(e["customer"] == customer_tag("c1") for e in check.examples)
    assert "c1" not in str(check.to_json()).replace(customer_tag("c1"), "")
    line = summary_line(check.to_json())
    assert "FAILED" in line
    assert "4 differ" in line
    assert "1 not published" in line


def test_a_redelivery_unlike_the_first_copy_differs_and_fields_can_be_narrowed() -> None:
    expected = {("c1", "tx", "e1"): _score()}
    published = [(("c1", "tx", "e1"), _score()), (("c1", "tx", "e1"), _score(score=3))]
    assert check_scores(expected, published).differing == 1
    narrowed = check_scores(expected, [(("c1", "tx", "e1"), _score(probability=0.2))],
                            fields=("features_sha256",))
    assert narrowed.ok


def test_published_record_to_key_and_fields() -> None:
    risk = {"customer_id": "c1", "trigger_topic": "run.bank.payments.v1",
            "trigger_event_id": "e1", "features_sha256": "ab", "score": 12,
            "probability": 0.125, "as_of": 99,
            "top_reasons": [{"code": "R1", "feature": "f1", "value": 1.0,
                             "contribution": 0.25, "text": "text"}]}
    key, value = published_score(risk)
    assert key == ("c1", "run.bank.payments.v1", "e1")
    assert value == Expected("ab", 12, 0.125, _REASONS, 99)


def _event(topic: str, event_id: str) -> dict[str, Any]:
    return {"type": topic, "event_id": event_id}


def test_engine_order_follows_the_published_triggers_per_topic() -> None:
    events = [_event("tx", "t1"), _event("pay", "p1"), _event("tx", "t2"),
              _event("flags", "f1"), _event("tx", "t3"), _event("pay", "p2")]

    def topic_of(e: Mapping[str, Any]) -> str:
        return str(e["type"])

    ids = [e["event_id"] for e in engine_order(events, topic_of,
                                               [("tx", "t1"), ("tx", "t3"), ("pay", "p1")])]
    # t2 (not scored) is taken on the way to t3; the flags and p2 were never reached
    assert ids == ["t1", "t2", "t3", "p1", "f1", "p2"]
    as_produced = engine_order(events, topic_of, [("tx", "t1"), ("pay", "p1"), ("tx", "t2"),
                                                  ("tx", "t3"), ("pay", "p2")])
    # the flags were never scored: last (they change no feature state)
    assert as_produced == [*events[:3], events[4], events[5], events[3]]
    # an unknown or repeated trigger is passed over
    assert engine_order(events, topic_of, [("tx", "zz"), ("tx", "t1"), ("tx", "t1")]) \
        == [events[0], *events[1:]]


class _Model:
    """A stand-in for ScoringModel: the score and reasons are functions of the row."""

    def score(self, matrix: np.ndarray) -> Any:
        total = matrix.sum(axis=1)
        return SimpleNamespace(scores=(np.abs(total) % 101).astype(np.int64),
                               probabilities=1 / (1 + np.exp(-total / 1e6)))

    def reasons(self, scored: Any, matrix: np.ndarray) -> list[tuple[Any, ...]]:
        return [(SimpleNamespace(code="R", feature="f", value=float(row[0]),
                                 contribution=float(row[1]), text="t"),) for row in matrix]


@pytest.fixture(scope="module")
def simulated() -> list[dict[str, Any]]:
    from stream_app.simulate import BankSimulator, SimulationConfig

    simulator = BankSimulator(SimulationConfig(customers=30, days=80, seed=5))
    return list(itertools.islice(simulator.events(), 2500))


_TOPICS = {"transaction": "tx", "payment": "pay", "customer_flags": "flags"}


def _as_published(expected: dict[Any, Expected]) -> list[tuple[Any, Expected]]:
    return [(k, v) for k, v in expected.items() if k[1] != TIMER_TOPIC]


def test_the_reference_keys_every_applied_event_and_checks_itself(
        simulated: list[dict[str, Any]]) -> None:
    expected = expected_scores(simulated, _TOPICS, _Model(), partition_of=lambda c: hash(c) % 2)
    events = [k for k in expected if k[1] != TIMER_TOPIC]
    assert len(events) == len(simulated)  # the simulation has no duplicates or late events
    assert {k[1] for k in events} <= {"tx", "pay"}
    check = check_scores(expected, _as_published(expected))
    assert check.ok
    assert check.equal == len(simulated)


def test_a_merge_of_the_topics_unlike_the_produced_order_gets_its_own_reference(
        simulated: list[dict[str, Any]]) -> None:
    produced = expected_scores(simulated, _TOPICS, _Model())
    customer = next(r["customer_id"] for r in simulated if r["type"] == "payment")
    mine = [r for r in simulated if r["customer_id"] == customer]
    # the engine applied all this customer's transactions before its payments
    merged = [r for r in mine if r["type"] == "transaction"] + \
        [r for r in mine if r["type"] == "payment"]
    triggers = [((customer, _TOPICS[r["type"]], r["event_id"]), _score()) for r in merged]
    reordering: dict[str, int] = {}
    expected = expected_scores(simulated, _TOPICS, _Model(), published=triggers,
                               reordering=reordering)
    assert reordering["customers"] == 1
    assert reordering["scores"] > 0
    changed = [k for k, v in expected.items() if k[1] != TIMER_TOPIC and produced[k] != v]
    assert changed
    assert {k[0] for k in changed} == {customer}
    # the engine's scores in that order pass; the produced-order reference would not
    published = _as_published(expected)
    assert check_scores(expected, published).ok
    assert not check_scores(produced, published).ok


def test_the_doc_note_gives_each_engines_result() -> None:
    ok = check_scores({("c", "tx", "e"): _score()}, [(("c", "tx", "e"), _score())]).to_json()
    bad = check_scores({("c", "tx", "e"): _score()}, []).to_json()
    note = reference_note([{"engine": "ceiling", "reference_check": ok},
                           {"engine": "worker", "reference_check": bad}])
    assert "  * ceiling: outputs equal the reference: 1 / 1" in note
    assert "  * worker: outputs equal the reference: 0 / 1 (**FAILED**: 1 not published)" \
        in note
    assert "timer" in note

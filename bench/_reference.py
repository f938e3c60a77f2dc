"""The benchmarks' output check (issue 21 item 5): every risk score an engine published for a
backlog equals the offline reference computed from the very same input events.

The reference is ``stream_app.offline.replay_events`` (pure-Python ``apply_event`` +
``feature_vector`` + ``next_deadline``: the semantics the worker computes with numba kernels),
scored with the same model (``ScoringModel.score`` + ``reasons``). Expected scores are keyed
by ``(customer_id, trigger_topic, trigger_event_id)``; each published one is compared on
``features_sha256``, ``score``, ``probability`` (exactly) and its reasons (code, feature,
value, contribution, text). Every published score must match an expected one and every
expected one must be published.

What is compared exactly, and why not everything:

* **event-triggered scores** are exact. A customer's state depends only on that customer's
  events and the order they were applied. A customer's events of one input topic are applied in
  the order they were produced (one topic partition), but an engine merges the customer's
  three input topics (transactions, payments, flags) as its fetches return them, not in the
  order the bench produced them. So the reference replays each customer's events in *the
  engine's merge order*, read back from the order of its published scores (each score names
  the event that triggered it; the events of a topic between two scored ones -- duplicates,
  late events, flags -- are taken in their produced order). Customers the engine merged exactly
  as produced get the produced-order reference; the others are counted (``reordered``), with
  how many of their scores would differ from a produced-order reference.
* **absence-deadline rescorings** (trigger topic ``timer``) are counted, not required to
  match: whether and when one fires depends on the input partition's stream time, i.e. the
  newest event time among *all* customers of the partition (and all three topics) the engine
  had fetched at that moment, and on where its batches end. The reference replays each input
  partition's events in produced order (one stream time per partition, as the engine keeps),
  and the published rescorings whose key it also produces are compared for information only.

Pure apart from :func:`expected_scores` (the replay and the model); nothing here prints a
customer id (:func:`customer_tag` is a short hash for the developer's report).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Check",
    "Expected",
    "Key",
    "check_scores",
    "customer_tag",
    "engine_order",
    "expected_scores",
    "published_score",
    "summary_line",
]

TIMER_TOPIC = "timer"  # stream_app.processing.TIMER_TOPIC, without importing the processor
Key = tuple[str, str, str]  # (customer_id, trigger_topic, trigger_event_id)
Reasons = tuple[tuple[str, str, float, float, str], ...]  # code, feature, value, contribution,
# text
FIELDS = ("features_sha256", "score", "probability", "reasons")
SHOW = 5  # differing keys shown in the report


@dataclass(frozen=True, slots=True)
class Expected:
    """The compared fields of one risk score (expected or published)."""

    features_sha256: str | None
    score: int
    probability: float
    reasons: Reasons
    as_of: int = 0


def customer_tag(customer_id: str) -> str:
    """A short, stable hash standing in for a customer id in the bench's report."""
    return "c:" + hashlib.sha256(customer_id.encode()).hexdigest()[:10]


def published_score(risk: Mapping[str, Any]) -> tuple[Key, Expected]:
    """A decoded risk-score record as (key, compared fields)."""
    reasons = tuple((str(r["code"]), str(r["feature"]), float(r["value"]),
                     float(r["contribution"]), str(r["text"]))
                    for r in risk.get("top_reasons") or ())
    key = (str(risk["customer_id"]), str(risk.get("trigger_topic") or ""),
           str(risk["trigger_event_id"]))
    return key, Expected(risk.get("features_sha256"), int(risk["score"]),
                         float(risk["probability"]), reasons, int(risk.get("as_of") or 0))


def engine_order(events: Sequence[Mapping[str, Any]], topic_of: Callable[[Mapping[str, Any]], str],
                 triggers: Sequence[tuple[str, str]]) -> list[Mapping[str, Any]]:
    """One customer's ``events`` (in produced order) in the order an engine applied them, as
    its published event-triggered scores show (``triggers``: (topic, event id) in the order
    published). Each topic's events keep their produced order; at a trigger, the events of its
    topic up to it are taken; events never reached come last, in produced order. A trigger not
    among the topic's remaining events is passed over (the comparison reports it)."""
    queues: dict[str, deque[Mapping[str, Any]]] = defaultdict(deque)
    remaining: dict[str, set[str]] = defaultdict(set)
    for event in events:
        topic = topic_of(event)
        queues[topic].append(event)
        remaining[topic].add(str(event["event_id"]))
    ordered: list[Mapping[str, Any]] = []
    taken: set[int] = set()
    for topic, event_id in triggers:
        if event_id not in remaining[topic]:
            continue
        queue = queues[topic]
        while queue:
            event = queue.popleft()
            ordered.append(event)
            taken.add(id(event))
            remaining[topic].discard(str(event["event_id"]))
            if str(event["event_id"]) == event_id:
                break
    ordered += [e for e in events if id(e) not in taken]
    return ordered


@dataclass
class Check:
    """The comparison of an engine's published scores with the reference."""

    expected: int = 0  # event-triggered scores the reference expects
    published: int = 0  # event-triggered scores the engine published (duplicates included)
    equal: int = 0
    differing: int = 0  # published for an expected key, some field differs
    missing: int = 0  # expected, never published
    unexpected: int = 0  # published, not expected
    duplicates: int = 0  # published more than once for one key (the copies, not failures if
    # equal)
    timers_expected: int = 0
    timers_published: int = 0
    timers_keyed: int = 0  # published rescorings whose key the reference also produces
    timers_equal: int = 0  # of them, with equal fields
    reordered_customers: int = 0  # customers the engine merged otherwise than produced
    reordered_scores: int = 0  # their scores a produced-order reference would expect otherwise
    fields: list[str] = field(default_factory=lambda: list(FIELDS))  # the fields compared
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.differing == 0 and self.missing == 0 and self.unexpected == 0
                and self.equal == self.expected)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "expected": self.expected, "published": self.published,
                "equal": self.equal, "differing": self.differing, "missing": self.missing,
                "unexpected": self.unexpected, "duplicates": self.duplicates,
                "timers": {"expected": self.timers_expected, "published": self.timers_published,
                           "keyed": self.timers_keyed, "equal": self.timers_equal},
                "reordered_customers": self.reordered_customers,
                "reordered_scores": self.reordered_scores,
                "fields": self.fields, "examples": self.examples}


def _fields(value: Expected | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"features_sha256": value.features_sha256, "score": value.score,
            "probability": value.probability, "as_of": value.as_of,
            "reasons": [[code, round(contribution, 6)]
                        for code, _, _, contribution, _ in value.reasons]}


def _differences(expected: Expected, actual: Expected,
                 fields: Sequence[str] = FIELDS) -> list[str]:
    return [name for name in fields if getattr(expected, name) != getattr(actual, name)]


def _example(key: Key, kind: str, expected: Expected | None, actual: Expected | None,
             fields: Sequence[str] = ()) -> dict[str, Any]:
    customer, topic, trigger = key
    return {"customer": customer_tag(customer), "trigger_topic": topic.rpartition(".")[0]
            .rpartition(".")[2] or topic, "trigger_event_id": trigger, "kind": kind,
            "fields": list(fields), "expected": _fields(expected), "actual": _fields(actual)}


def check_scores(expected: Mapping[Key, Expected], published: Iterable[tuple[Key, Expected]],
                 *, fields: Sequence[str] = FIELDS, show: int = SHOW) -> Check:
    """Count both directions: every published score against the expected one of its key
    (on ``fields``), every expected one published. Keys of ``TIMER_TOPIC`` are counted apart
    (never fail)."""
    check = Check(fields=list(fields))
    seen: dict[Key, Expected] = {}

    def note(key: Key, kind: str, want: Expected | None, actual: Expected | None,
             differ: Sequence[str] = ()) -> None:
        if len(check.examples) < show:
            check.examples.append(_example(key, kind, want, actual, differ))

    check.timers_expected = sum(1 for key in expected if key[1] == TIMER_TOPIC)
    check.expected = len(expected) - check.timers_expected
    for key, actual in published:
        want = expected.get(key)
        if key[1] == TIMER_TOPIC:
            check.timers_published += 1
            check.timers_keyed += want is not None
            check.timers_equal += want is not None and not _differences(want, actual, fields)
            continue
        check.published += 1
        previous = seen.get(key)
        if previous is not None:  # a copy (a redelivery): a difference only if unlike the first
            check.duplicates += 1
            differ = _differences(previous, actual, fields)
            if differ:
                check.differing += 1
                note(key, "duplicate differs", previous, actual, differ)
            continue
        seen[key] = actual
        if want is None:
            check.unexpected += 1
            note(key, "not expected", None, actual)
            continue
        differ = _differences(want, actual, fields)
        if differ:
            check.differing += 1
            note(key, "differs", want, actual, differ)
        else:
            check.equal += 1
    for key, want in expected.items():
        if key[1] != TIMER_TOPIC and key not in seen:
            check.missing += 1
            note(key, "not published", want, None)
    return check


def summary_line(check: Mapping[str, Any]) -> str:
    """``outputs equal the reference: 150,000 / 150,000`` and what else there is to say."""
    text = f"outputs equal the reference: {check['equal']:,} / {check['expected']:,}"
    problems = [f"{check[k]:,} {label}" for k, label in (
        ("differing", "differ"), ("missing", "not published"),
        ("unexpected", "not expected")) if check.get(k)]
    if problems:
        text += " (**FAILED**: " + ", ".join(problems) + ")"
    timers = check.get("timers") or {}
    if timers.get("published") or timers.get("expected"):
        text += (f"; absence rescorings counted apart: {timers['published']:,} published, "
                 f"{timers['expected']:,} in the reference, {timers['equal']:,} of "
                 f"{timers['keyed']:,} with a common key equal")
    if check.get("reordered_customers"):
        text += (f"; {check['reordered_customers']:,} customers' topics merged otherwise "
                 f"than produced ({check['reordered_scores']:,} scores follow that order)")
    return text


# --- the reference itself --------------------------------------------------------------------
def _score_rows(model: Any, rows: Sequence[Any], topic_of_row: Callable[[Any], str],
                chunk: int = 5000) -> dict[Key, Expected]:
    import numpy as np

    from stream_app.processing import vector_sha256

    out: dict[Key, Expected] = {}
    for start in range(0, len(rows), chunk):
        block = rows[start:start + chunk]
        matrix = np.asarray([row.vector for row in block], dtype=np.float64)
        scored = model.score(matrix)
        reasons = model.reasons(scored, matrix)
        for i, row in enumerate(block):
            key = (row.customer_id, topic_of_row(row), row.trigger)
            out[key] = Expected(
                vector_sha256(matrix[i]), int(scored.scores[i]),
                float(scored.probabilities[i]),
                tuple((r.code, r.feature, float(r.value), float(r.contribution), r.text)
                      for r in reasons[i]),
                int(row.as_of))
    return out


def _applying(events: Sequence[Mapping[str, Any]]) -> list[int]:
    """The events that can change a feature state (customer flags never do, and are never
    scored, so where an engine took them is unknown and of no matter)."""
    return [id(e) for e in events if e["type"] != "customer_flags"]


def expected_scores(records: Sequence[Mapping[str, Any]], topics: Mapping[str, str], model: Any,
                    *, partition_of: Callable[[str], int] | None = None,
                    published: Iterable[tuple[Key, Expected]] = (),
                    reordering: dict[str, int] | None = None) -> dict[Key, Expected]:
    """The reference of ``records`` (the events as produced, in order; ``topics``: record type
    -> input topic name): each event-triggered score with its customer's events in the
    engine's merge order (from ``published``, see the module's docstring), and the absence
    rescorings of a replay per input partition (``partition_of(customer_id)``; one partition
    without it). ``reordering`` receives the counts of customers the engine merged otherwise
    than produced ("customers") and of their scores that order changes ("scores")."""
    from stream_app.offline import replay_events

    def topic_of(record: Mapping[str, Any]) -> str:
        return topics[str(record["type"])]

    by_customer: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_customer[str(record["customer_id"])].append(record)
    triggers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (customer, topic, event_id), _ in published:
        if topic != TIMER_TOPIC:
            triggers[customer].append((topic, event_id))
    topic_by_event = {(str(r["customer_id"]), str(r["event_id"])): topic_of(r) for r in records}

    def event_topic(row: Any) -> str:
        return topic_by_event[(row.customer_id, row.trigger)]

    produced: list[Mapping[str, Any]] = []
    merged: list[Mapping[str, Any]] = []
    reordered: set[str] = set()
    for customer, events in by_customer.items():
        order = engine_order(events, topic_of, triggers.get(customer, []))
        if _applying(order) == _applying(events):
            produced += events
        else:
            reordered.add(customer)
            merged += order
    rows = list(replay_events(produced, absence_deadlines=False))
    rows += replay_events(merged, absence_deadlines=False)
    expected = _score_rows(model, rows, event_topic)
    if reordering is not None:
        reordering["customers"] = len(reordered)
        reordering["scores"] = 0
        if reordered:
            mine = [r for r in records if str(r["customer_id"]) in reordered]
            as_produced = _score_rows(model, list(replay_events(mine, absence_deadlines=False)),
                                      event_topic)
            reordering["scores"] = sum(1 for k, v in as_produced.items()
                                       if expected.get(k) != v)
    # absence rescorings: one stream time per input partition, as the engines keep
    by_partition: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        part = partition_of(str(record["customer_id"])) if partition_of else 0
        by_partition[part].append(record)
    timers = [row for part in sorted(by_partition)
              for row in replay_events(by_partition[part])
              if (row.customer_id, row.trigger) not in topic_by_event]
    expected.update(_score_rows(model, timers, lambda _row: TIMER_TOPIC))
    return expected

"""The check the end-to-end tests make against the offline replay: the stream's state of
every customer equals the replay of the same events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from stream_app.offline import replay_events
from stream_app.processing import vector_sha256
from stream_app.simulate import BankSimulator, SimulationConfig

__all__ = ["assert_last_scores_match_replay", "simulated"]


def simulated(customers: int, days: int, seed: int) -> list[dict[str, Any]]:
    """The simulator's event log (records with their "type")."""
    return list(BankSimulator(SimulationConfig(customers=customers, days=days, seed=seed))
                .events())


def assert_last_scores_match_replay(records: Iterable[dict[str, Any]],
                                    scores: list[dict[str, Any]], *,
                                    explain: Callable[[str], str] | None = None) -> None:
    """``scores``: decoded event-triggered risk events (absence rescorings left out), in
    the order the worker wrote each customer's (a customer's last one wins). Every customer
    of the replay has one, and its last one has the replay's ``as_of`` and feature vector
    (``features_sha256``): nothing lost, nothing counted twice. A failure names where the
    customer's risk events first part from the replay, which events were scored more than
    once, and ``explain(customer)`` if given (e.g. the changelog's story, ``state_report``)."""
    last: dict[str, dict[str, Any]] = {}
    for score in scores:
        last[score["customer_id"]] = score
    final = {}
    replayed: dict[tuple[str, str], str] = {}  # (customer, trigger) -> features_sha256
    for row in replay_events(records, absence_deadlines=False):
        final[row.customer_id] = row
        replayed[(row.customer_id, row.trigger)] = vector_sha256(row.vector)
    assert set(last) == set(final)
    for customer, row in final.items():
        assert last[customer]["as_of"] == row.as_of, customer
        if last[customer]["features_sha256"] != vector_sha256(row.vector):
            message = _divergence(customer, scores, replayed)
            if explain is not None:
                message += "\n" + explain(customer)
            raise AssertionError(message)


def _divergence(customer: str, scores: list[dict[str, Any]],
                replayed: dict[tuple[str, str], str]) -> str:
    """Where a customer's risk events first part from the replay: which event and, if the
    test recorded it (``_ts``), when it was written."""
    mine = [s for s in scores if s["customer_id"] == customer]
    repeated = sorted(t for t, n in Counter(s["trigger_event_id"] for s in mine).items()
                      if n > 1)
    again = f"; scored more than once: {repeated[:8]}" if repeated else ""
    for i, score in enumerate(mine):
        if score["features_sha256"] != replayed.get((customer, score["trigger_event_id"])):
            written = f", written at {score['_ts']}" if "_ts" in score else ""
            return (f"{customer}: the last risk event differs from the replay; the first "
                    f"that differs at its event (the input topics interleave, so earlier "
                    f"ones may differ harmlessly) is {i + 1} of {len(mine)} (trigger "
                    f"{score['trigger_event_id']}, as_of {score['as_of']}{written}){again}")
    return f"{customer}: every risk event matches the replay at its event{again}"

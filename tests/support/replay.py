"""The check the end-to-end tests make against the offline replay: the stream's state of
every customer equals the replay of the same events."""

from __future__ import annotations

from collections.abc import Iterable
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
                                    scores: list[dict[str, Any]]) -> None:
    """``scores``: decoded event-triggered risk events (absence rescorings left out), in
    the order the worker wrote each customer's (a customer's last one wins). Every customer
    of the replay has one, and its last one has the replay's ``as_of`` and feature vector
    (``features_sha256``): nothing lost, nothing counted twice. A failure names where the
    customer's risk events first part from the replay."""
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
        assert last[customer]["features_sha256"] == vector_sha256(row.vector), \
            _divergence(customer, scores, replayed)


def _divergence(customer: str, scores: list[dict[str, Any]],
                replayed: dict[tuple[str, str], str]) -> str:
    """Where a customer's risk events first part from the replay: which event and, if the
    test recorded it (``_ts``), when it was written."""
    mine = [s for s in scores if s["customer_id"] == customer]
    for i, score in enumerate(mine):
        if score["features_sha256"] != replayed.get((customer, score["trigger_event_id"])):
            written = f", written at {score['_ts']}" if "_ts" in score else ""
            return (f"{customer}: risk event {i + 1} of {len(mine)} (trigger "
                    f"{score['trigger_event_id']}, as_of {score['as_of']}{written}) differs "
                    "from the replay at that event")
    return f"{customer}: every risk event matches the replay at its event"

"""What the API asks of the process that scores customers (the worker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["PredictBackend", "PredictUnavailable"]


class PredictUnavailable(Exception):
    """The backend cannot score now (e.g. while its worker rebalances); answered with 503.

    ``reason`` is logged (never shown to the client) and must not contain a customer id;
    ``retry_after`` becomes the ``Retry-After`` header (whole seconds, at least 1).
    """

    def __init__(self, reason: str = "prediction temporarily unavailable",
                 retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PredictBackend(Protocol):
    """Scores one customer now from the current state.

    Serves the customer on the worker that owns its partition or routes the call there; that is
    the backend's concern. Returns ``None`` for a customer it has no state for, else a mapping
    with ``as_of`` (epoch milliseconds UTC, an aware ``datetime`` or an ISO-8601 string),
    ``probability``, ``score``, ``band``, ``model_version`` and ``reasons`` (``Reason`` objects or
    ``Reason.to_record()`` dicts), best first. Raises :class:`PredictUnavailable` when it
    cannot answer for now.
    """

    async def predict(self, customer_id: str) -> Mapping[str, Any] | None: ...

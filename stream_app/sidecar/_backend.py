"""What the API asks of the process that scores customers (the worker)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["DIRECT_CALL", "PredictBackend", "PredictCall", "PredictUnavailable"]


class PredictUnavailable(Exception):
    """The backend cannot score now (e.g. while its worker rebalances); answered with 503.

    ``reason`` is logged (never shown to the client) and must not contain a customer id;
    ``retry_after`` becomes the ``Retry-After`` header (whole seconds, at least 1); ``detail``,
    when given, is the message shown to the client (no input values either).
    """

    def __init__(self, reason: str = "prediction temporarily unavailable",
                 retry_after: int | None = None, *, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.detail = detail


@dataclass(frozen=True)
class PredictCall:
    """Who asks, and whether the call was forwarded by another worker.

    ``client``: the caller's API key name (``None`` without a key, in development).
    ``forwarded``: the call carries the hop header; it is answered here or refused, never
    forwarded again. ``partition``: the partition the sending worker routed it by.
    ``verified``: the forward's signature was checked (``FORWARD_SECRET``).
    """

    client: str | None = None
    forwarded: bool = False
    partition: int | None = None
    verified: bool = False


DIRECT_CALL = PredictCall()


class PredictBackend(Protocol):
    """Scores one customer now from the current state.

    Serves the customer on the worker that owns its partition or routes the call there; that is
    the backend's concern. Returns ``None`` for a customer it has no state for, else a mapping
    with ``as_of`` (epoch milliseconds UTC, an aware ``datetime`` or an ISO-8601 string),
    ``probability``, ``score``, ``band``, ``model_version`` and ``reasons`` (``Reason`` objects or
    ``Reason.to_record()`` dicts), best first. Raises :class:`PredictUnavailable` when it
    cannot answer for now.
    """

    async def predict(self, customer_id: str,
                      call: PredictCall = DIRECT_CALL) -> Mapping[str, Any] | None: ...

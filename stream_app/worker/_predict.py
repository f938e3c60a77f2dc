"""`POST /predict` served by the worker: score a customer now from its current state.

A customer's state lives on the worker that owns the customer's partition. The worker that
receives the request answers it when it owns the partition, and otherwise forwards it to the
owner, found through Faust's partition assignment (every worker advertises its sidecar URL
as its ``canonical_url``). While the group rebalances or tables recover, the answer is 503.

"Now" is event time: the customer is scored as of the newest event time of its partition (so
absence features such as a missed salary are current), or of its own newest event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import numpy as np
from aiokafka.partitioner import murmur2

from stream_app.features import CustomerState, StateFormatError, feature_vector
from stream_app.scoring import BandCutoffs, ScoringModel
from stream_app.sidecar import PredictUnavailable

__all__ = ["WorkerPredictBackend"]

log = logging.getLogger(__name__)
_FORWARD_TIMEOUT_SECONDS = 5.0


class WorkerPredictBackend:
    def __init__(
        self,
        *,
        app: Any,  # faust.App
        table: Any,  # the customer-state table
        input_topic: str,  # one of the co-partitioned input topics
        partitions: int,
        own_url: str,
        api_prefix: str,
        api_key: str | None,
        model: Callable[[], ScoringModel],
        bands: BandCutoffs,
        stream_time: Callable[[int], int],
        is_ready: Callable[[], bool],
    ) -> None:
        self._app = app
        self._table = table
        self._input_topic = input_topic
        self._partitions = partitions
        self._own_url = own_url.rstrip("/")
        self._api_prefix = api_prefix
        self._api_key = api_key
        self._model = model
        self._bands = bands
        self._stream_time = stream_time
        self._is_ready = is_ready
        self._session: aiohttp.ClientSession | None = None

    def partition_of(self, customer_id: str) -> int:
        """Kafka's default partitioner, which producers must use for the input topics."""
        return int((murmur2(customer_id.encode()) & 0x7FFFFFFF) % self._partitions)

    def _owner_url(self, customer_id: str) -> str:
        url = str(self._app.router.key_store(self._table.name, customer_id.encode()))
        return url.rstrip("/")

    def _owns(self, partition: int) -> bool:
        """True when this worker is assigned the partition of the input topics (not merely a
        changelog or faust's internal leader topic, which share partition numbers)."""
        consumer = self._app.consumer
        assigned = consumer.assignment() if consumer is not None else set()
        return any(tp.partition == partition and tp.topic == self._input_topic
                   for tp in assigned)

    async def predict(self, customer_id: str) -> Mapping[str, Any] | None:
        if not self._is_ready():
            raise PredictUnavailable("worker not ready (starting, rebalancing or recovering)",
                                     retry_after=5)
        partition = self.partition_of(customer_id)
        if self._owns(partition):
            return self._score_locally(customer_id, partition)
        try:
            owner = self._owner_url(customer_id)
        except Exception:  # no assignment metadata yet
            raise PredictUnavailable("partition owner unknown", retry_after=5) from None
        if owner == self._own_url:
            raise PredictUnavailable("assignment changing", retry_after=2)
        return await self._forward(owner, customer_id)

    def _score_locally(self, customer_id: str, partition: int) -> Mapping[str, Any] | None:
        raw = self._table.get(customer_id.encode())
        if raw is None:
            return None
        try:
            state = CustomerState.from_bytes(raw)
        except StateFormatError:
            raise PredictUnavailable("stored state unreadable", retry_after=60) from None
        as_of = max(state.watermark, self._stream_time(partition))
        vector = np.asarray([feature_vector(state, as_of)], dtype=np.float64)
        model = self._model()
        scored = model.score(vector)
        score = int(scored.scores[0])
        arrears = bool(scored.arrears[0])
        return {
            "customer_id": customer_id,
            "as_of": as_of,
            "track": scored.tracks[0],
            "days_past_due": int(scored.days_past_due[0]),
            "probability": float(scored.probabilities[0]),
            "roll_probability": float(scored.roll[0]) if arrears else None,
            "cure_probability": float(scored.cure[0]) if arrears else None,
            "score": score,
            "band": self._bands.band(score),
            "model_version": model.version,
            "reasons": list(model.reasons(scored, vector)[0]),
        }

    async def _forward(self, owner: str, customer_id: str) -> Mapping[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=_FORWARD_TIMEOUT_SECONDS))
        headers = {"X-API-Key": self._api_key} if self._api_key else {}
        url = f"{owner}{self._api_prefix}/predict"
        try:
            async with self._session.post(url, json={"customer_id": customer_id},
                                          headers=headers) as reply:
                if reply.status == 404:
                    return None
                if reply.status != 200:
                    raise PredictUnavailable(f"owner answered {reply.status}", retry_after=2)
                body: dict[str, Any] = await reply.json()
        except (TimeoutError, aiohttp.ClientError):
            raise PredictUnavailable("owner unreachable", retry_after=2) from None
        body.pop("cached", None)
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

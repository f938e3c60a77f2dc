"""`POST /predict` served by the worker: score a customer now from its current state.

A customer's state lives on the worker that owns the customer's partition. The worker that
receives the request answers it when it owns the partition, and otherwise forwards it to the
owner, found through Faust's partition assignment (every worker advertises its sidecar URL
as its ``canonical_url``). While the group rebalances or tables recover, the answer is 503.

Forwarding (issue 20): the caller's API key is never forwarded. With ``FORWARD_SECRET`` the
call is signed (:mod:`stream_app.sidecar._forwarding`) and may go over http; without it only
to an https owner, with this worker's ``API_KEY``. Only owners whose host is allowed by
``FORWARD_ALLOWED_HOSTS`` (loopback when empty) are called, redirects are not followed, and a
forwarded call is answered by its receiver or refused, never forwarded again.

The customer's partition is computed with ``KAFKA_PARTITIONER`` (as the producers place it)
and checked against this worker's assignment before any state is read; the state is read from
that partition's store only (a forwarded call naming another partition, or a customer whose
partition is not assigned here, is never answered from local state).

"Now" is event time: the customer is scored as of the newest event time of its partition (so
absence features such as a missed salary are current), or of its own newest event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
import numpy as np
from yarl import URL

from stream_app.features import CustomerState, StateFormatError, feature_vector
from stream_app.partitioning import Partitioner, partition_for
from stream_app.scoring import BandCutoffs, ScoringModel
from stream_app.sidecar import PredictCall, PredictUnavailable
from stream_app.sidecar._forwarding import (
    HOP_HEADER,
    PARTITION_HEADER,
    ForwardSigner,
    HostAllowList,
)

__all__ = ["WorkerPredictBackend"]

log = logging.getLogger(__name__)
_FORWARD_TIMEOUT_SECONDS = 5.0
_DIRECT = PredictCall()
_INSECURE = ("the customer is served by another worker, and forwarding needs FORWARD_SECRET "
             "(or an https worker URL and API_KEY)")


class WorkerPredictBackend:
    def __init__(
        self,
        *,
        app: Any,  # faust.App
        table: Any,  # the customer-state table (its name routes the key)
        read_state: Callable[[int, bytes], bytes | None],  # one partition's store
        input_topic: str,  # one of the co-partitioned input topics
        partitions: int,
        own_url: str,
        api_prefix: str,
        api_key: str | None,
        model: Callable[[], ScoringModel],
        bands: BandCutoffs,
        stream_time: Callable[[int], int],
        is_ready: Callable[[], bool],
        partitioner: Partitioner = Partitioner.MURMUR2,
        forward_secret: str | None = None,
        forward_allowed_hosts: Iterable[str] = (),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._table = table
        self._read_state = read_state
        self._partitioner = partitioner
        self._signer = (ForwardSigner(forward_secret, clock=wall_clock)
                        if forward_secret else None)
        self._allowed = HostAllowList(forward_allowed_hosts)
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
        """The partition the producers put the customer on (``KAFKA_PARTITIONER``)."""
        return partition_for(customer_id.encode(), self._partitions, self._partitioner)

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

    async def predict(self, customer_id: str,
                      call: PredictCall = _DIRECT) -> Mapping[str, Any] | None:
        if not self._is_ready():
            raise PredictUnavailable("worker not ready (starting, rebalancing or recovering)",
                                     retry_after=5)
        partition = self.partition_of(customer_id)
        if call.forwarded:  # answered here or refused: never forwarded again
            if call.partition is not None and call.partition != partition:
                raise PredictUnavailable(
                    "forwarded call names another partition than the customer's (do "
                    "TOPIC_PARTITIONS and KAFKA_PARTITIONER agree between workers?)",
                    retry_after=5)
            if not self._owns(partition):
                raise PredictUnavailable("forwarded call for a partition not assigned here",
                                         retry_after=2)
            return self._score_locally(customer_id, partition)
        if self._owns(partition):
            return self._score_locally(customer_id, partition)
        try:
            owner = self._owner_url(customer_id)
        except Exception:  # no assignment metadata yet
            raise PredictUnavailable("partition owner unknown", retry_after=5) from None
        if owner == self._own_url:
            raise PredictUnavailable("assignment changing", retry_after=2)
        return await self._forward(owner, customer_id, partition, call.client)

    def _score_locally(self, customer_id: str, partition: int) -> Mapping[str, Any] | None:
        if not self._owns(partition):  # the caller checked; the state is read only if so
            raise PredictUnavailable("partition not assigned here", retry_after=2)
        raw = self._read_state(partition, customer_id.encode())
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

    def _forward_headers(self, url: URL, path: str, customer_id: str, partition: int,
                         client: str | None) -> dict[str, str]:
        """Signed hop headers with FORWARD_SECRET; else this worker's key, over https only."""
        if self._signer is not None:
            return self._signer.headers("POST", path, customer_id, partition, client or "")
        if url.scheme != "https" or not self._api_key:
            log.warning("not forwarding /predict to the partition's owner: without "
                        "FORWARD_SECRET calls are forwarded only to https worker URLs, with "
                        "API_KEY set")
            raise PredictUnavailable("forwarding needs FORWARD_SECRET, or https and API_KEY",
                                     retry_after=30, detail=_INSECURE)
        return {"X-API-Key": self._api_key, HOP_HEADER: "1", PARTITION_HEADER: str(partition)}

    async def _forward(self, owner: str, customer_id: str, partition: int,
                       client: str | None) -> Mapping[str, Any] | None:
        base = "" if self._api_prefix == "/" else self._api_prefix
        path = f"{base}/predict"
        url = URL(owner)
        if url.scheme not in ("http", "https") or not url.host:
            raise PredictUnavailable("partition owner URL not usable", retry_after=5)
        if not self._allowed.allows(url.host):
            log.warning("not forwarding /predict: the partition owner's host %s is not "
                        "allowed by FORWARD_ALLOWED_HOSTS", url.host)
            raise PredictUnavailable("owner host not allowed", retry_after=30)
        headers = self._forward_headers(url, path, customer_id, partition, client)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=_FORWARD_TIMEOUT_SECONDS))
        try:
            async with self._session.post(url.with_path(path), json={"customer_id": customer_id},
                                          headers=headers, allow_redirects=False) as reply:
                if reply.status == 404:
                    return None
                if reply.status != 200:
                    raise PredictUnavailable(f"owner answered {reply.status}", retry_after=2)
                body: dict[str, Any] = await reply.json()
        except (TimeoutError, aiohttp.ClientError, ValueError):
            raise PredictUnavailable("owner unreachable", retry_after=2) from None
        body.pop("cached", None)
        return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

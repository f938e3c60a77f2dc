"""The sidecar's authenticated API: ``POST /predict`` and the audit-trail reads.

Routes (under ``API_PREFIX``):

* ``POST /predict`` ``{"customer_id": ...}``: the customer scored now by the
  :class:`PredictBackend`, with reasons; answers are cached per customer for ``CACHE_TTL``.
* ``GET /customers/{customer_id}/risk``: the latest score in PostgreSQL.
* ``GET /customers/{customer_id}/interventions?limit=``: the latest interventions.
* ``GET /openapi.json``: the OpenAPI document (public).

Request id, CORS, rate limit, API key and JSON errors: :mod:`._middleware`; signed calls
forwarded by another worker: :mod:`._forwarding`. Bodies are read from the stream with a size
limit and a deadline (:mod:`._body`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from stream_app.settings import Settings

from ._audit import AuditReader, DatabaseUnavailable
from ._auth import ApiKeyAuth
from ._backend import PredictBackend, PredictCall, PredictUnavailable
from ._body import read_body
from ._cache import TtlCache
from ._config import ApiConfig
from ._cors import CorsPolicy
from ._forwarding import (
    HOP_HEADER,
    PARTITION_HEADER,
    ForwardRejected,
    ForwardVerifier,
    VerifiedForward,
)
from ._metrics import ApiMetrics
from ._middleware import CLIENT_KEY, FORWARD_KEY, ApiMiddleware
from ._openapi import openapi_document
from ._ratelimit import RateLimiter
from ._responses import ApiError, json_response
from ._shapes import prediction_record
from ._validation import (
    MAX_BODY_BYTES,
    check_content_type,
    check_customer_id,
    parse_limit,
    parse_predict_body,
)

__all__ = ["SidecarApi"]

log = logging.getLogger("stream_app.sidecar.api")


class SidecarApi:
    """The API's routes and middleware, installed on the sidecar's aiohttp application.

    ``backend`` answers ``/predict``; ``registry`` receives the API's metrics (the worker's
    registry, so that ``/metrics`` shows them); ``clock`` (monotonic seconds) drives the cache,
    the rate limiter and the re-check of optional database columns; ``wall_clock`` (unix
    seconds) the timestamps of signed forwarded calls.
    """

    def __init__(self, config: ApiConfig, *, backend: PredictBackend,
                 registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic,
                 audit: AuditReader | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.backend = backend
        self.audit = audit or AuditReader(config.database_url, clock=clock)
        self.cache: TtlCache[str, dict[str, Any]] = TtlCache(
            config.cache_ttl, clock=clock, max_entries=config.cache_max_entries)
        self.metrics = ApiMetrics(registry)
        base = config.base
        self.routes = {
            "predict": f"{base}/predict",
            "risk": f"{base}/customers/{{customer_id}}/risk",
            "interventions": f"{base}/customers/{{customer_id}}/interventions",
            "openapi": f"{base}/openapi.json",
            "health": f"{base}/health",  # served by the Sidecar itself
        }
        self.verifier = (ForwardVerifier(config.forward_secret, clock=wall_clock,
                                         max_skew=config.forward_max_skew)
                         if config.forward_secret else None)
        self.middleware = ApiMiddleware(
            base=base,
            auth=ApiKeyAuth(config.keys, required=config.require_key),
            limiter=RateLimiter(config.rate_limit_max, config.rate_limit_window, clock=clock,
                                max_clients=config.rate_limit_max_clients),
            cors=CorsPolicy(config.cors_origins),
            metrics=self.metrics,
            public_routes=(self.routes["health"], self.routes["openapi"]),
            unlimited_routes=(self.routes["health"],),
            forward_check=self._verify_forward if self.verifier is not None else None,
            forwarded_routes=(self.routes["predict"],),
        )
        self._document = openapi_document(config.prefix)
        if config.require_key and not config.keys:
            log.warning("neither API_KEY nor API_KEYS is set: the API refuses every request "
                        "(401) outside ENVIRONMENT=development")

    @classmethod
    def from_settings(cls, settings: Settings, *, backend: PredictBackend,
                      registry: CollectorRegistry,
                      clock: Callable[[], float] = time.monotonic) -> SidecarApi:
        """Raises :class:`~stream_app.settings.ConfigurationError` as
        :meth:`ApiConfig.from_settings` does."""
        return cls(ApiConfig.from_settings(settings), backend=backend, registry=registry,
                   clock=clock)

    def install(self, app: web.Application) -> None:
        """Add the routes and the middleware to ``app`` (before it starts)."""
        app.middlewares.append(self.middleware)
        router = app.router
        router.add_post(self.routes["predict"], self.predict)
        router.add_get(self.routes["risk"], self.risk, allow_head=False)
        router.add_get(self.routes["interventions"], self.interventions, allow_head=False)
        router.add_get(self.routes["openapi"], self.openapi, allow_head=False)

        async def close(_: web.Application) -> None:
            await self.close()

        app.on_cleanup.append(close)

    async def close(self) -> None:
        await self.audit.close()

    # --- handlers ----------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> bytes:
        return await read_body(request, limit=MAX_BODY_BYTES,
                               timeout=self.config.body_read_timeout)

    async def _verify_forward(self, request: web.Request) -> VerifiedForward:
        """The middleware's check of a signed forwarded ``/predict`` (before any key)."""
        assert self.verifier is not None
        try:
            check_content_type(request.content_type)
            customer_id = parse_predict_body(await self._body(request))
        except ApiError as exc:
            if exc.status in (408, 413):
                raise
            raise ForwardRejected("forwarded body not a predict request") from None
        return self.verifier.verify(request.method, request.path, customer_id,
                                    request.headers)

    @staticmethod
    def _call(request: web.Request) -> PredictCall:
        forward = request.get(FORWARD_KEY)
        if forward is not None:
            return PredictCall(client=forward.client, forwarded=True,
                               partition=forward.partition, verified=True)
        forwarded = HOP_HEADER in request.headers
        partition: int | None = None
        if forwarded:  # unsigned (https forwarding): the key authenticated it
            raw = request.headers.get(PARTITION_HEADER, "")
            if not raw.isdigit():
                raise ApiError(422, f"{PARTITION_HEADER} must be a partition number")
            partition = int(raw)
        return PredictCall(client=request.get(CLIENT_KEY), forwarded=forwarded,
                           partition=partition)

    async def predict(self, request: web.Request) -> web.Response:
        check_content_type(request.content_type)
        customer_id = parse_predict_body(await self._body(request))
        call = self._call(request)
        # a forwarded call is answered from this worker's current assignment only (the
        # sending worker caches the answer)
        cached = None if call.forwarded else self.cache.get(customer_id)
        if cached is not None:
            return json_response({**cached, "cached": True})
        try:
            async with asyncio.timeout(self.config.predict_timeout):
                raw = await self.backend.predict(customer_id, call)
        except PredictUnavailable as exc:
            log.warning("predict unavailable: %s", exc.reason)
            raise self._unavailable(exc.detail or "prediction temporarily unavailable",
                                    exc.retry_after) from None
        except TimeoutError:
            log.warning("predict timed out after %.1fs", self.config.predict_timeout)
            raise self._unavailable("prediction timed out") from None
        if raw is None:
            raise ApiError(404, "unknown customer")
        answer = prediction_record(customer_id, raw)
        self.cache.put(customer_id, answer)
        return json_response({**answer, "cached": False})

    async def risk(self, request: web.Request) -> web.Response:
        customer_id = check_customer_id(request.match_info["customer_id"])
        try:
            score = await self.audit.latest_score(customer_id)
        except DatabaseUnavailable:
            raise self._unavailable("audit database unavailable") from None
        if score is None:
            raise ApiError(404, "unknown customer")
        return json_response(score)

    async def interventions(self, request: web.Request) -> web.Response:
        customer_id = check_customer_id(request.match_info["customer_id"])
        limit = parse_limit(request.query.getall("limit", []))
        try:
            rows = await self.audit.interventions(customer_id, limit)
        except DatabaseUnavailable:
            raise self._unavailable("audit database unavailable") from None
        if rows is None:
            raise ApiError(404, "unknown customer")
        return json_response({"customer_id": customer_id, "limit": limit,
                              "interventions": rows})

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(self._document)

    def _unavailable(self, message: str, retry_after: int | None = None) -> ApiError:
        seconds = max(1, retry_after or self.config.unavailable_retry_after)
        return ApiError(503, message, headers={"Retry-After": str(seconds)})

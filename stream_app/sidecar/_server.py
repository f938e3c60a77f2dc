"""The aiohttp sidecar: liveness, readiness, Prometheus metrics (and the small API).

Runs on the worker's event loop. ``/health`` answers while the process is alive;
``/ready`` only when the worker can do its job (model loaded, partitions assigned, table
recovery finished); ``/metrics`` serves the worker's own Prometheus registry, rate limited,
generated off the event loop, and with the API key unless ``METRICS_PUBLIC_INFO=true``
(``X-API-Key``, or ``Authorization: Bearer`` as Prometheus sends it). With ``api``
(:class:`SidecarApi`), the authenticated API is served under ``api_prefix`` too. Connections
are limited as :mod:`._limits` describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from ._api import SidecarApi
from ._auth import API_KEY_HEADER, WWW_AUTHENTICATE, ApiKeyAuth
from ._config import ApiConfig
from ._exposition import MetricsExposition
from ._limits import ConnectionMetrics, GuardedSite, ServerLimits, guard_middleware
from ._log_redaction import install_redaction
from ._ratelimit import RateLimiter
from ._request_id import request_id
from ._responses import ApiError, error_response

__all__ = ["HealthSource", "MetricsSource", "Sidecar"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthSource:
    """Callbacks into the worker; each must be cheap and never raise."""

    model_version: Callable[[], str | None]
    readiness: Callable[[], Mapping[str, bool]]
    refresh_metrics: Callable[[], None] = lambda: None


class MetricsSource(Protocol):
    """The process's metrics (``WorkerMetrics``, ``SinkMetrics``): ``/metrics`` serves their
    registry."""

    registry: CollectorRegistry


def _offered_key(request: web.Request) -> str | None:
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return key
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


class Sidecar:
    """``config`` (the API's, or for a process without the API such as the sink) gives the
    keys, ``METRICS_PUBLIC_INFO`` and the rate limit of ``/metrics``; ``limits`` the
    connection limits; ``metric_namespace`` the prefix of the sidecar's own metrics."""

    def __init__(self, *, metrics: MetricsSource, health: HealthSource, api_prefix: str,
                 host: str, port: int, api: SidecarApi | None = None,
                 config: ApiConfig | None = None, limits: ServerLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 metrics_max_age: float = 1.0, metric_namespace: str = "predelinq") -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self.limits = limits or ServerLimits()
        self.config = api.config if api is not None else (config or ApiConfig(prefix=api_prefix))
        install_redaction(self.config.api_key, self.config.forward_secret)
        self._metrics_auth = ApiKeyAuth(self.config.keys, required=self.config.require_key)
        self._metrics_limiter = RateLimiter(self.config.rate_limit_max,
                                            self.config.rate_limit_window, clock=clock,
                                            max_clients=self.config.rate_limit_max_clients)
        self._exposition = MetricsExposition(metrics.registry, refresh=health.refresh_metrics,
                                             max_age=metrics_max_age, clock=clock)
        self._connection_metrics = ConnectionMetrics(metrics.registry, metric_namespace)
        self.app = web.Application(middlewares=[guard_middleware])
        self.app.router.add_get("/health", self._health)
        self.app.router.add_get("/ready", self._ready)
        self.app.router.add_get("/metrics", self._metrics)
        if self.config.base:  # with API_PREFIX=/ the API's health is /health itself
            self.app.router.add_get(f"{self.config.base}/health", self._api_health)
        self.api = api
        if api is not None:  # the authenticated API (predict, audit trail) on the same app
            if api.config.prefix != api_prefix:
                raise ValueError("the API's prefix differs from the sidecar's api_prefix")
            api.install(self.app)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handler_cancellation=True,
                                     **self.limits.handler_kwargs())
        await self._runner.setup()
        site = GuardedSite(self._runner, self.host, self.port, limits=self.limits,
                           metrics=self._connection_metrics)
        await site.start()
        if self.port == 0 and site.server is not None:  # report the port the OS picked
            sockets = site.server.sockets
            if sockets:
                self.port = sockets[0].getsockname()[1]
        log.info("sidecar listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _api_health(self, request: web.Request) -> web.Response:
        version = self.health.model_version()
        return web.json_response({
            "status": "ok",
            "model_loaded": version is not None,
            "model_version": version,
        })

    async def _ready(self, request: web.Request) -> web.Response:
        checks = dict(self.health.readiness())
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        offered = _offered_key(request)
        wait = self._metrics_limiter.hit(self._metrics_auth.client(offered, request.remote))
        rid = request_id(request.headers.get("X-Request-ID"))
        if wait is not None:
            return error_response(ApiError(429, "too many requests; retry later",
                                           headers={"Retry-After": str(wait)}), rid)
        if not self.config.metrics_public_info and not self._metrics_auth.allows(offered):
            return error_response(ApiError(
                401, f"/metrics needs the API key ({API_KEY_HEADER} or Authorization: Bearer) "
                     "unless METRICS_PUBLIC_INFO=true",
                headers={"WWW-Authenticate": WWW_AUTHENTICATE}), rid)
        body = await self._exposition.body()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

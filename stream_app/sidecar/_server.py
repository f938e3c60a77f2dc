"""The aiohttp sidecar: liveness, readiness, Prometheus metrics (and the small API).

Runs on the worker's event loop. ``/health`` answers while the process is alive;
``/ready`` only when the worker can do its job (model loaded, partitions assigned, table
recovery finished); ``/metrics`` serves the worker's own Prometheus registry. With ``api``
(:class:`SidecarApi`), the authenticated API is served under ``api_prefix`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ._api import SidecarApi

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


class Sidecar:
    def __init__(self, *, metrics: MetricsSource, health: HealthSource, api_prefix: str,
                 host: str, port: int, api: SidecarApi | None = None) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self.app = web.Application()
        self.app.router.add_get("/health", self._health)
        self.app.router.add_get("/ready", self._ready)
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get(f"{api_prefix}/health", self._api_health)
        self.api = api
        if api is not None:  # the authenticated API (predict, audit trail) on the same app
            if api.config.prefix != api_prefix:
                raise ValueError("the API's prefix differs from the sidecar's api_prefix")
            api.install(self.app)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # report the port the OS picked
            server = site._server
            sockets = getattr(server, "sockets", None) or []
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
        self.health.refresh_metrics()
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

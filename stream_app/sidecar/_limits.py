"""Connection limits of the sidecar's HTTP server, which aiohttp does not have by default.

* at most ``max_connections`` open connections: one more is closed at once (counted);
* a request's headers must arrive within ``read_timeout_seconds`` of its first byte (and the
  first request within that time of the connection opening): a client sending its headers
  byte by byte (slowloris) is cut off; bodies have their own deadline (:mod:`._body`);
* an idle keep-alive connection is closed after ``keepalive_seconds`` (aiohttp's own
  ``keepalive_timeout``).

:class:`GuardedSite` listens like aiohttp's ``TCPSite`` but creates
:class:`GuardedRequestHandler` protocols; :func:`guard_middleware` tells the protocol when a
request's headers are in (the handler runs) and when it is answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from stream_app.settings import Settings

__all__ = ["GuardedRequestHandler", "GuardedSite", "ServerLimits", "guard_middleware"]


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 256
    keepalive_seconds: float = 15.0
    read_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if (self.max_connections < 1 or self.keepalive_seconds <= 0
                or self.read_timeout_seconds <= 0):
            raise ValueError("max_connections >= 1, keepalive_seconds > 0, "
                             "read_timeout_seconds > 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(max_connections=settings.sidecar_max_connections,
                   keepalive_seconds=settings.sidecar_keepalive_seconds,
                   read_timeout_seconds=settings.sidecar_read_timeout_seconds)

    def handler_kwargs(self) -> dict[str, Any]:
        """aiohttp ``RequestHandler`` arguments (also given to the ``AppRunner``)."""
        return {"keepalive_timeout": self.keepalive_seconds, "access_log": None,
                "lingering_time": min(2.0, self.read_timeout_seconds),
                "max_line_size": 8190, "max_field_size": 8190}


class ConnectionMetrics:
    """``namespace``: the process's metric prefix (``predelinq``, the sink's
    ``predelinq_sink``)."""

    def __init__(self, registry: CollectorRegistry, namespace: str = "predelinq") -> None:
        self.refused = Counter(
            f"{namespace}_sidecar_connections_refused_total",
            "Connections closed at once because SIDECAR_MAX_CONNECTIONS were open.",
            registry=registry)
        self.read_timeouts = Counter(
            f"{namespace}_sidecar_read_timeouts_total",
            "Connections closed because a request was not received within "
            "SIDECAR_READ_TIMEOUT_SECONDS.", registry=registry)


class GuardedRequestHandler(web.RequestHandler):
    def __init__(self, manager: web.Server, *, limits: ServerLimits,
                 metrics: ConnectionMetrics, loop: asyncio.AbstractEventLoop,
                 **kwargs: Any) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._server_ref = manager
        self._limits = limits
        self._guard_metrics = metrics
        self._guard_loop = loop
        self._deadline: asyncio.TimerHandle | None = None
        self._in_request = False
        self._refused = False

    # --- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self._server_ref.connections) >= self._limits.max_connections:
            self._refused = True
            self._guard_metrics.refused.inc()
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self._limits.read_timeout_seconds)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._in_request:  # bytes of a request whose headers are not in yet
            self._arm(self._limits.read_timeout_seconds)
        super().data_received(data)

    # --- told by guard_middleware ------------------------------------------------------------
    def request_started(self) -> None:
        self._in_request = True
        self._disarm()

    def request_finished(self) -> None:
        self._in_request = False
        # a next request must come in time too (aiohttp closes the idle connection earlier)
        self._arm(self._limits.keepalive_seconds + self._limits.read_timeout_seconds)

    # --- the deadline ------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        when = self._guard_loop.time() + seconds
        if self._deadline is not None:
            if self._deadline.when() <= when:
                return  # an earlier deadline stands
            self._deadline.cancel()
        self._deadline = self._guard_loop.call_at(when, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self._in_request:
            return
        self._guard_metrics.read_timeouts.inc()
        transport = self.transport
        self.force_close()
        if transport is not None:
            transport.close()


class GuardedSite(web.BaseSite):
    """A TCP listener (like ``web.TCPSite``) whose connections are guarded."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, limits: ServerLimits,
                 metrics: ConnectionMetrics, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._limits = limits
        self._metrics = metrics
        self._listen_backlog = backlog
        self.server: asyncio.Server | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()  # registers the site with the runner
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        assert manager is not None
        kwargs = self._limits.handler_kwargs()

        def protocol() -> GuardedRequestHandler:
            return GuardedRequestHandler(manager, limits=self._limits, metrics=self._metrics,
                                         loop=loop, **kwargs)

        self.server = self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._listen_backlog,
            reuse_address=True)


@web.middleware
async def guard_middleware(request: web.Request,
                           handler: Any) -> web.StreamResponse:
    """The request's headers are in: stop the header deadline until it is answered."""
    protocol = request.protocol
    if not isinstance(protocol, GuardedRequestHandler):  # e.g. aiohttp's test server
        response: web.StreamResponse = await handler(request)
        return response
    protocol.request_started()
    try:
        response = await handler(request)
        return response
    finally:
        protocol.request_finished()

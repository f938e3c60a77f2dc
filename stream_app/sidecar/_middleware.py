"""The API's aiohttp middleware: request id, CORS, rate limit, API key, JSON errors, metrics
and one log line per request.

It acts on paths under the API prefix only; ``/health``, ``/ready`` and ``/metrics`` pass
through untouched. ``{API_PREFIX}/health``, the OpenAPI document and answers of the router
(no such route: 404, method not allowed: 405) need no key; health probes are not rate
limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import ClassVar

from aiohttp import web

from ._auth import API_KEY_HEADER, WWW_AUTHENTICATE, ApiKeyAuth
from ._cors import CorsPolicy
from ._metrics import UNMATCHED_ROUTE, ApiMetrics
from ._ratelimit import RateLimiter
from ._request_id import request_id
from ._responses import ApiError, error_response, from_http_exception

__all__ = ["REQUEST_ID_KEY", "ApiMiddleware"]

log = logging.getLogger("stream_app.sidecar.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_KEY = web.RequestKey("request_id", str)
_OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})  # the sidecar's own, never API


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


class ApiMiddleware:
    __middleware_version__: ClassVar[int] = 1  # aiohttp's marker of new-style middlewares

    def __init__(self, *, base: str, auth: ApiKeyAuth, limiter: RateLimiter, cors: CorsPolicy,
                 metrics: ApiMetrics, public_routes: Collection[str],
                 unlimited_routes: Collection[str]) -> None:
        self._base = base
        self._auth = auth
        self._limiter = limiter
        self._cors = cors
        self._metrics = metrics
        self._public = frozenset(public_routes)
        self._unlimited = frozenset(unlimited_routes)

    def in_scope(self, request: web.Request) -> bool:
        path = request.path
        return path.startswith(self._base + "/") and path not in _OPS_PATHS

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.in_scope(request):
            return await handler(request)
        started = time.perf_counter()
        rid = request_id(request.headers.get("X-Request-ID"))
        request[REQUEST_ID_KEY] = rid
        route = route_template(request)
        origin = request.headers.get("Origin")
        try:
            response = await self._guarded(request, handler, route, origin)
        except ApiError as exc:
            response = error_response(exc, rid)
        except web.HTTPException as exc:  # no route, method not allowed, body too large
            if exc.status < 400:
                raise
            response = error_response(from_http_exception(exc), rid)
        except Exception as exc:  # any other failure: a JSON 500 for the client, logged
            log.error("request_id=%s unhandled %s", rid, type(exc).__name__)
            log.debug("request_id=%s traceback", rid, exc_info=True)
            response = error_response(ApiError(500, "internal error"), rid)
        response.headers["X-Request-ID"] = rid
        response.headers.setdefault("Cache-Control", "no-store")
        if not response.headers.get("Access-Control-Allow-Origin"):
            for name, value in self._cors.response_headers(origin).items():
                response.headers.setdefault(name, value)
        elapsed = time.perf_counter() - started
        self._metrics.observe(route, request.method, response.status, elapsed)
        level = logging.DEBUG if route in self._unlimited else logging.INFO
        log.log(level, "request_id=%s method=%s route=%s status=%d duration_ms=%.1f",
                rid, request.method, route, response.status, elapsed * 1000.0,
                extra={"request_id": rid})  # a field of its own in JSON logs
        return response

    async def _guarded(self, request: web.Request, handler: Handler, route: str,
                       origin: str | None) -> web.StreamResponse:
        if (request.method == "OPTIONS" and origin
                and "Access-Control-Request-Method" in request.headers):
            return self._preflight(request, origin)
        offered = request.headers.get(API_KEY_HEADER)
        if route not in self._unlimited:
            wait = self._limiter.hit(self._auth.client(offered, request.remote))
            if wait is not None:
                raise ApiError(429, "too many requests; retry later",
                               headers={"Retry-After": str(wait)})
        # no route or method: the router's 404/405 needs no key (the routes are public in the
        # OpenAPI document anyway), so clients learn what they got wrong
        routed = request.match_info.http_exception is None
        if routed and route not in self._public and not self._auth.allows(offered):
            message = (f"{API_KEY_HEADER} header missing" if not offered
                       else f"{API_KEY_HEADER} not valid")
            raise ApiError(401, message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})
        return await handler(request)

    def _preflight(self, request: web.Request, origin: str) -> web.Response:
        """204 with the route's methods for a listed origin; 403 for any other origin."""
        if not self._cors.allowed(origin):
            raise ApiError(403, "origin not allowed", code="cors_origin_not_allowed")
        exc = request.match_info.http_exception
        if isinstance(exc, web.HTTPMethodNotAllowed):
            methods: Collection[str] = exc.allowed_methods
        elif exc is None:
            methods = [request.match_info.route.method]
        else:  # no such route
            raise from_http_exception(exc)
        return web.Response(status=204, headers=self._cors.preflight_headers(origin, methods))

"""The API's aiohttp middleware: request id, CORS, rate limit, API key, JSON errors, metrics
and one log line per request.

It acts on paths under the API prefix only; ``/health``, ``/ready`` and ``/metrics`` pass
through untouched. ``{API_PREFIX}/health``, the OpenAPI document and answers of the router
(no such route: 404, method not allowed: 405) need no key; health probes are not rate
limited. The client is the API key's *name* (``API_KEY`` is ``default``, ``API_KEYS`` name
theirs): its rate-limit bucket and the name logged at DEBUG on success.

A call another worker forwarded with a signature (``FORWARD_SECRET``) is authenticated by that
signature instead of a key, and not rate limited again (the sending worker counted it in the
caller's bucket); a signature that does not verify is 401, counted against the address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import ClassVar

from aiohttp import web

from ._auth import API_KEY_HEADER, WWW_AUTHENTICATE, ApiKeyAuth
from ._cors import CorsPolicy
from ._forwarding import SIGNATURE_HEADER, ForwardRejected, VerifiedForward
from ._metrics import UNMATCHED_ROUTE, ApiMetrics
from ._ratelimit import RateLimiter
from ._request_id import request_id
from ._responses import ApiError, error_response, from_http_exception

__all__ = ["CLIENT_KEY", "FORWARD_KEY", "REQUEST_ID_KEY", "ApiMiddleware"]

log = logging.getLogger("stream_app.sidecar.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_KEY = web.RequestKey("request_id", str)
CLIENT_KEY = web.RequestKey("api_client", str)  # the name of the key that authenticated
FORWARD_KEY = web.RequestKey("verified_forward", VerifiedForward)
ForwardCheck = Callable[[web.Request], Awaitable[VerifiedForward]]
_OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})  # the sidecar's own, never API


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


class ApiMiddleware:
    __middleware_version__: ClassVar[int] = 1  # aiohttp's marker of new-style middlewares

    def __init__(self, *, base: str, auth: ApiKeyAuth, limiter: RateLimiter, cors: CorsPolicy,
                 metrics: ApiMetrics, public_routes: Collection[str],
                 unlimited_routes: Collection[str], forward_check: ForwardCheck | None = None,
                 forwarded_routes: Collection[str] = ()) -> None:
        self._base = base
        self._auth = auth
        self._limiter = limiter
        self._cors = cors
        self._metrics = metrics
        self._public = frozenset(public_routes)
        self._unlimited = frozenset(unlimited_routes)
        self._forward_check = forward_check
        self._forwarded = frozenset(forwarded_routes)

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
            response = await self._guarded(request, handler, route, origin, rid)
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
                       origin: str | None, rid: str) -> web.StreamResponse:
        if (request.method == "OPTIONS" and origin
                and "Access-Control-Request-Method" in request.headers):
            return self._preflight(request, origin)
        # no route or method: the router's 404/405 needs no key (the routes are public in the
        # OpenAPI document anyway), so clients learn what they got wrong
        routed = request.match_info.http_exception is None
        if (routed and self._forward_check is not None and route in self._forwarded
                and SIGNATURE_HEADER in request.headers):
            return await self._forwarded_call(request, handler, rid)
        offered = request.headers.get(API_KEY_HEADER)
        if route not in self._unlimited:
            self._limit(self._auth.client(offered, request.remote))
        name = self._auth.identify(offered)
        if routed and route not in self._public and self._auth.required and name is None:
            message = (f"{API_KEY_HEADER} header missing" if not offered
                       else f"{API_KEY_HEADER} not valid")
            raise ApiError(401, message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})
        if name is not None:
            request[CLIENT_KEY] = name
            log.debug("request_id=%s authenticated key_name=%s", rid, name)
        return await handler(request)

    async def _forwarded_call(self, request: web.Request, handler: Handler,
                              rid: str) -> web.StreamResponse:
        assert self._forward_check is not None
        try:
            forward = await self._forward_check(request)
        except ForwardRejected as exc:
            log.warning("request_id=%s forwarded call refused: %s", rid, exc.reason)
            self._limit("addr:" + (request.remote or "unknown"))
            raise ApiError(401, "forwarded call not valid",
                           headers={"WWW-Authenticate": WWW_AUTHENTICATE}) from None
        request[FORWARD_KEY] = forward
        log.debug("request_id=%s forwarded call verified key_name=%s", rid, forward.client)
        return await handler(request)

    def _limit(self, client: str) -> None:
        wait = self._limiter.hit(client)
        if wait is not None:
            raise ApiError(429, "too many requests; retry later",
                           headers={"Retry-After": str(wait)})

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

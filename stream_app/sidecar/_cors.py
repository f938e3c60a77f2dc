"""CORS: which origins may read the API's answers, and the preflight answer."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ALLOWED_HEADERS", "CorsPolicy"]

ALLOWED_HEADERS = ("X-API-Key", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")
MAX_AGE_SECONDS = 600


class CorsPolicy:
    """Origins are compared exactly (case-insensitively, without a trailing slash); ``*``
    allows any origin (refused in production by the settings)."""

    def __init__(self, origins: Iterable[str]) -> None:
        listed = [o.strip().rstrip("/").lower() for o in origins if o.strip()]
        self._any = "*" in listed
        self._origins = frozenset(o for o in listed if o != "*")

    @property
    def enabled(self) -> bool:
        return self._any or bool(self._origins)

    def allowed(self, origin: str | None) -> bool:
        if not origin:
            return False
        return self._any or origin.rstrip("/").lower() in self._origins

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) answer."""
        headers: dict[str, str] = {}
        if self.enabled and not self._any:
            headers["Vary"] = "Origin"
        if origin and self.allowed(origin):
            headers["Access-Control-Allow-Origin"] = "*" if self._any else origin
            headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        return headers

    def preflight_headers(self, origin: str, methods: Iterable[str]) -> dict[str, str]:
        """Headers of the 204 answer to an allowed origin's preflight."""
        allowed = sorted({m.upper() for m in methods} | {"OPTIONS"})
        return {
            **self.response_headers(origin),
            "Access-Control-Allow-Methods": ", ".join(allowed),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }

"""The API key check (``X-API-Key``), in constant time."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["API_KEY_HEADER", "ApiKeyAuth"]

API_KEY_HEADER = "X-API-Key"
WWW_AUTHENTICATE = f'ApiKey realm="predelinq", header="{API_KEY_HEADER}"'


def _digest(value: str) -> bytes:
    # surrogateescape: header bytes aiohttp could not decode still compare (and never match)
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class ApiKeyAuth:
    """Compares SHA-256 digests with :func:`hmac.compare_digest`: constant time whatever the
    length of the key offered. With no key configured, no key matches."""

    def __init__(self, api_key: str | None, *, required: bool) -> None:
        self.required = required
        self._digest = _digest(api_key) if api_key else None

    def matches(self, offered: str | None) -> bool:
        if self._digest is None or not offered:
            return False
        return hmac.compare_digest(_digest(offered), self._digest)

    def allows(self, offered: str | None) -> bool:
        return not self.required or self.matches(offered)

    def client(self, offered: str | None, remote: str | None) -> str:
        """The rate-limit identity: the key when it is valid, else the remote address (so that
        guessing keys is throttled per address). Never the key itself."""
        if self.matches(offered):
            assert offered is not None
            return "key:" + _digest(offered).hex()[:16]
        return "addr:" + (remote or "unknown")

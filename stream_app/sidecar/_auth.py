"""The API key check (``X-API-Key``) against every configured key, in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from ._keys import ApiKeyEntry, digest

__all__ = ["API_KEY_HEADER", "ApiKeyAuth"]

API_KEY_HEADER = "X-API-Key"
WWW_AUTHENTICATE = f'ApiKey realm="predelinq", header="{API_KEY_HEADER}"'


class ApiKeyAuth:
    """Compares SHA-256 digests with :func:`hmac.compare_digest`, against every key (no early
    exit), so the time does not depend on the key offered. With no key configured, no key
    matches."""

    def __init__(self, keys: Sequence[ApiKeyEntry], *, required: bool) -> None:
        self.required = required
        self._keys = tuple(keys)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def identify(self, offered: str | None) -> str | None:
        """The name of the key offered, ``None`` when it is no configured key."""
        if not offered:
            return None
        offered_digest = digest(offered)
        found: str | None = None
        for key in self._keys:
            if hmac.compare_digest(offered_digest, key.sha256) and found is None:
                found = key.name
        return found

    def matches(self, offered: str | None) -> bool:
        return self.identify(offered) is not None

    def allows(self, offered: str | None) -> bool:
        return not self.required or self.matches(offered)

    def client(self, offered: str | None, remote: str | None) -> str:
        """The rate-limit identity: the key's *name* when the key is valid, else the remote
        address (so that guessing keys is throttled per address). Never the key itself."""
        name = self.identify(offered)
        if name is not None:
            return "key:" + name
        return "addr:" + (remote or "unknown")

"""The API's keys: ``API_KEY`` (named ``default``) and ``API_KEYS`` (``name:sha256-hex``).

Only SHA-256 digests are kept; a key's *name* identifies the client (rate-limit bucket, logs),
never the key. Errors name the variable and the entry's position, never its value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_KEY_NAME", "ApiKeyEntry", "digest", "parse_api_keys"]

DEFAULT_KEY_NAME = "default"  # the name of API_KEY
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def digest(value: str) -> bytes:
    """SHA-256 of a key; surrogateescape: header bytes aiohttp could not decode still hash
    (and never match)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class ApiKeyEntry:
    name: str
    sha256: bytes = field(repr=False)


def parse_api_keys(entries: Iterable[str], *,
                   api_key: str | None = None) -> tuple[ApiKeyEntry, ...]:
    """``API_KEY`` (as ``default``) and the ``API_KEYS`` entries; raises ``ValueError`` naming
    ``API_KEYS`` and the entry's position for a malformed or duplicate entry."""
    keys: list[ApiKeyEntry] = []
    if api_key:
        keys.append(ApiKeyEntry(DEFAULT_KEY_NAME, digest(api_key)))
    for position, entry in enumerate(entries, start=1):
        name, sep, hex_digest = entry.strip().partition(":")
        if not sep or not _NAME.fullmatch(name) or not _HEX.fullmatch(hex_digest):
            raise ValueError(f"API_KEYS entry {position} is not name:sha256-hex (a name of "
                             "1-64 characters [A-Za-z0-9._-], then 64 hex digits)")
        if any(k.name == name for k in keys):
            raise ValueError(f"API_KEYS entry {position} repeats a key name (names are unique; "
                             f"'{DEFAULT_KEY_NAME}' is API_KEY's)")
        keys.append(ApiKeyEntry(name, bytes.fromhex(hex_digest)))
    return tuple(keys)

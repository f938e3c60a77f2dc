"""Worker-to-worker forwarding of ``/predict``: the hop headers, their HMAC signature, and the
allow-list of hosts a call may be forwarded to.

With ``FORWARD_SECRET`` the sending worker signs method, path, customer id, partition, the
caller's key name, a timestamp and a random nonce (HMAC-SHA256); the receiver accepts the call
as authenticated (no API key, no second rate-limit hit) when the signature matches, the
timestamp is within ``max_skew`` seconds of its clock and the nonce was not seen within that
window (replays are refused). The caller's API key is never forwarded.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import orjson

__all__ = [
    "CLIENT_HEADER",
    "HOP_HEADER",
    "NONCE_HEADER",
    "PARTITION_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ForwardRejected",
    "ForwardSigner",
    "ForwardVerifier",
    "HostAllowList",
    "VerifiedForward",
]

HOP_HEADER = "X-Predelinq-Forwarded"  # "1": a forwarded call, never forwarded again
PARTITION_HEADER = "X-Predelinq-Partition"  # the partition the sender routed the call by
CLIENT_HEADER = "X-Predelinq-Client"  # the caller's key name (signed)
TIMESTAMP_HEADER = "X-Predelinq-Timestamp"  # unix seconds (signed)
NONCE_HEADER = "X-Predelinq-Nonce"  # 32 hex digits (signed)
SIGNATURE_HEADER = "X-Predelinq-Signature"  # hex HMAC-SHA256
_VERSION = "predelinq-forward-v1"
_NONCE = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_CLIENT = re.compile(r"[A-Za-z0-9._:-]{0,80}")
_MAX_REMEMBERED = 100_000  # nonces within the replay window; beyond it, calls are refused


class ForwardRejected(Exception):
    """A signed forwarded call that is not accepted; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedForward:
    partition: int
    client: str


def _message(method: str, path: str, customer_id: str, *, partition: int, client: str,
             timestamp: int, nonce: str) -> bytes:
    # a JSON array: no separator a customer id could contain makes two calls sign alike
    return orjson.dumps([_VERSION, method.upper(), path, customer_id, partition, client,
                         timestamp, nonce])


def _mac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class ForwardSigner:
    def __init__(self, secret: str, *, clock: Callable[[], float]) -> None:
        self._secret = secret.encode()
        self._clock = clock

    def headers(self, method: str, path: str, customer_id: str, partition: int,
                client: str) -> dict[str, str]:
        timestamp = int(self._clock())
        nonce = secrets.token_hex(16)
        signature = _mac(self._secret, _message(method, path, customer_id, partition=partition,
                                                client=client, timestamp=timestamp,
                                                nonce=nonce))
        return {HOP_HEADER: "1", PARTITION_HEADER: str(partition), CLIENT_HEADER: client,
                TIMESTAMP_HEADER: str(timestamp), NONCE_HEADER: nonce,
                SIGNATURE_HEADER: signature}


class ForwardVerifier:
    """Checks signed forwarded calls; remembers their nonces for the replay window."""

    def __init__(self, secret: str, *, clock: Callable[[], float], max_skew: float = 30.0,
                 max_remembered: int = _MAX_REMEMBERED) -> None:
        self._secret = secret.encode()
        self._clock = clock
        self.max_skew = max_skew
        self._max_remembered = max_remembered
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> forget after

    def verify(self, method: str, path: str, customer_id: str,
               headers: Mapping[str, str]) -> VerifiedForward:
        try:
            partition = int(headers[PARTITION_HEADER])
            timestamp = int(headers[TIMESTAMP_HEADER])
            nonce, client = headers[NONCE_HEADER], headers[CLIENT_HEADER]
            signature = headers[SIGNATURE_HEADER]
        except (KeyError, ValueError):
            raise ForwardRejected("forward headers missing or malformed") from None
        if (partition < 0 or not _NONCE.fullmatch(nonce) or not _SIGNATURE.fullmatch(signature)
                or not _CLIENT.fullmatch(client)):
            raise ForwardRejected("forward headers missing or malformed")
        expected = _mac(self._secret, _message(method, path, customer_id, partition=partition,
                                               client=client, timestamp=timestamp,
                                               nonce=nonce))
        if not hmac.compare_digest(expected, signature):
            raise ForwardRejected("forward signature not valid")
        now = self._clock()
        if abs(now - timestamp) > self.max_skew:
            raise ForwardRejected("forward timestamp outside the allowed clock skew")
        self._forget(now)
        if nonce in self._seen:
            raise ForwardRejected("forward replayed")
        if len(self._seen) >= self._max_remembered:
            raise ForwardRejected("too many forwarded calls in the replay window")
        self._seen[nonce] = timestamp + self.max_skew
        return VerifiedForward(partition=partition, client=client)

    def _forget(self, now: float) -> None:
        """Nonces whose timestamps can no longer pass the skew check need no memory."""
        for nonce, until in list(self._seen.items()):
            if until < now:
                del self._seen[nonce]

    def __len__(self) -> int:
        return len(self._seen)


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class HostAllowList:
    """``FORWARD_ALLOWED_HOSTS``: exact host names, or ``.suffix`` entries matching any name
    that ends with the suffix; empty: loopback hosts only. Compared case-insensitively."""

    def __init__(self, entries: Iterable[str]) -> None:
        cleaned = [e.strip().lower().rstrip(".") for e in entries if e.strip()]
        self._suffixes = tuple(e for e in cleaned if e.startswith("."))
        self._exact = frozenset(e for e in cleaned if not e.startswith("."))

    def allows(self, host: str | None) -> bool:
        if not host:
            return False
        name = host.strip("[]").lower().rstrip(".")
        if not self._exact and not self._suffixes:
            return _loopback(name)
        return name in self._exact or any(
            name.endswith(s) and len(name) > len(s) for s in self._suffixes)


def _loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

"""Output ids: a keyed hash of what triggered an output, formatted as a UUID (pure).

A risk score's ``event_id`` and an intervention's ``intervention_id`` are HMAC-SHA256, under
``OUTPUT_ID_KEY``, of the trigger (customer, source topic, trigger event id) and the model
(and policy version and action): the same inputs and key give the same id, so a re-processed
batch re-publishes identical ids that downstream consumers deduplicate on; without the key
nobody can compute the id of an output before the worker publishes it (an unkeyed hash, such
as a UUIDv5 of those inputs, lets anyone who knows them predict it). The first 16 bytes of the
MAC carry the version and variant bits of an RFC 9562 UUIDv8 (custom layout), so the fields
stay UUID strings. The parts are length-prefixed, so no two different inputs hash the same
bytes whatever characters their ids contain.

Without ``OUTPUT_ID_KEY`` the worker uses :data:`DEVELOPMENT_OUTPUT_ID_KEY`: published here,
hence no protection; production must set a key (and keep it: another key gives other ids, so
a re-processed batch would no longer deduplicate against what was published before).
Offline tools that must reproduce a worker's ids call these functions with the worker's key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

__all__ = ["DEVELOPMENT_OUTPUT_ID_KEY", "intervention_id", "output_id", "score_event_id"]

DEVELOPMENT_OUTPUT_ID_KEY = b"predelinq development output-id key (public, not for production)"


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> Any:
    """The HMAC with the key set up once (its inner and outer pads); ``copy()`` per id."""
    return hmac.new(key, digestmod=hashlib.sha256)


def output_id(key: bytes, *parts: str) -> str:
    """The UUIDv8 string of HMAC-SHA256(``key``, the length-prefixed ``parts``)."""
    mac = _keyed(key).copy()
    for part in parts:
        encoded = part.encode()
        mac.update(len(encoded).to_bytes(4, "big"))
        mac.update(encoded)
    raw = mac.digest()
    # the first 16 bytes with the version (8) and the RFC 9562 variant bits, as a UUID string
    h = raw[:16].hex()
    return (f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{(int(h[16], 16) & 0x3 | 0x8):x}{h[17:20]}-"
            f"{h[20:32]}")


def score_event_id(customer_id: str, topic: str, event_id: str, model_version: str, *,
                   key: bytes = DEVELOPMENT_OUTPUT_ID_KEY) -> str:
    """Same trigger, model and key, same id: a re-delivered input gives an identical risk
    event."""
    return output_id(key, "score", customer_id, topic, event_id, model_version)


def intervention_id(customer_id: str, topic: str, event_id: str, *, model_version: str,
                    policy_version: str, action: str,
                    key: bytes = DEVELOPMENT_OUTPUT_ID_KEY) -> str:
    """Same trigger, model, policy, action and key, same id: the CRM can deduplicate on it."""
    return output_id(key, "intervention", customer_id, topic, event_id, model_version,
                     policy_version, action)

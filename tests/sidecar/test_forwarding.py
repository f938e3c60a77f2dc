"""Signed forwarded /predict calls (FORWARD_SECRET): accepted without a key and without a
second rate-limit hit, refused when tampered with, replayed or outside the clock skew; the hop
header marks every forwarded call; FORWARD_ALLOWED_HOSTS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stream_app.sidecar import PredictCall
from stream_app.sidecar._forwarding import (
    HOP_HEADER,
    PARTITION_HEADER,
    ForwardRejected,
    ForwardSigner,
    ForwardVerifier,
    HostAllowList,
)

from .conftest import KNOWN, PREFIX, FakeClock, StartApi

URL = f"{PREFIX}/predict"
SECRET = "forward-secret-0123456789abcdef"


def signed(clock: FakeClock, customer_id: str = KNOWN, *, partition: int = 3,
           client: str = "crm", secret: str = SECRET, path: str = URL) -> dict[str, str]:
    return {**ForwardSigner(secret, clock=clock).headers("POST", path, customer_id, partition,
                                                          client),
            "Content-Type": "application/json"}


def body(customer_id: str = KNOWN) -> bytes:
    return json.dumps({"customer_id": customer_id}).encode()


async def test_a_signed_forward_needs_no_key_and_reaches_the_backend_as_forwarded(
        start_api: StartApi) -> None:
    h = await start_api(forward_secret=SECRET)
    response = await h.client.post(URL, data=body(), headers=signed(h.clock))
    assert response.status == 200
    assert h.backend.contexts == [PredictCall(client="crm", forwarded=True, partition=3,
                                              verified=True)]


@pytest.mark.parametrize("tamper", ["customer", "partition", "client", "secret", "path",
                                    "signature", "missing"])
async def test_a_tampered_forward_is_401(start_api: StartApi, tamper: str) -> None:
    h = await start_api(forward_secret=SECRET)
    headers = signed(h.clock, secret="another-secret" if tamper == "secret" else SECRET,
                     path=f"{PREFIX}/other" if tamper == "path" else URL)
    if tamper == "partition":
        headers[PARTITION_HEADER] = "4"
    elif tamper == "client":
        headers["X-Predelinq-Client"] = "batch"
    elif tamper == "signature":
        headers["X-Predelinq-Signature"] = "0" * 64
    elif tamper == "missing":
        del headers["X-Predelinq-Nonce"]
    data = body("C-other") if tamper == "customer" else body()
    response = await h.client.post(URL, data=data, headers=headers)
    assert response.status == 401
    assert h.backend.calls == []


async def test_a_replayed_forward_is_401(start_api: StartApi) -> None:
    h = await start_api(forward_secret=SECRET, cache_ttl=0)
    headers = signed(h.clock)
    assert (await h.client.post(URL, data=body(), headers=headers)).status == 200
    assert (await h.client.post(URL, data=body(), headers=headers)).status == 401
    assert len(h.backend.calls) == 1


@pytest.mark.parametrize(("skew", "status"), [(-31, 401), (-30, 200), (30, 200), (31, 401)])
async def test_the_clock_skew_is_bounded(start_api: StartApi, skew: float,
                                         status: int) -> None:
    h = await start_api(forward_secret=SECRET, forward_max_skew=30)
    headers = signed(FakeClock(h.clock.now + skew))
    assert (await h.client.post(URL, data=body(), headers=headers)).status == status


def test_nonces_are_forgotten_after_the_replay_window() -> None:
    clock = FakeClock(1_000.0)
    verifier = ForwardVerifier(SECRET, clock=clock, max_skew=30, max_remembered=2)
    for _ in range(2):
        verifier.verify("POST", URL, KNOWN, signed(clock))
    with pytest.raises(ForwardRejected, match="too many"):  # bounded memory: fail closed
        verifier.verify("POST", URL, KNOWN, signed(clock))
    clock.advance(31)
    verifier.verify("POST", URL, KNOWN, signed(clock))
    assert len(verifier) == 1


async def test_a_verified_forward_does_not_use_the_callers_bucket_again(
        start_api: StartApi) -> None:
    h = await start_api(forward_secret=SECRET, rate_limit_max=1, cache_ttl=0)
    for _ in range(3):  # the sending worker counted these in the caller's bucket
        assert (await h.client.post(URL, data=body(), headers=signed(h.clock))).status == 200
    # bad signatures are counted against the address
    bad = {**signed(h.clock), "X-Predelinq-Signature": "0" * 64}
    assert (await h.client.post(URL, data=body(), headers=bad)).status == 401
    assert (await h.client.post(URL, data=body(), headers=bad)).status == 429


async def test_without_forward_secret_a_signature_is_no_credential(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(URL, data=body(), headers=signed(h.clock))
    assert response.status == 401


async def test_an_unsigned_hop_still_needs_the_key_and_is_marked_forwarded(
        start_api: StartApi) -> None:
    h = await start_api()
    hop = {HOP_HEADER: "1", PARTITION_HEADER: "5"}
    assert (await h.client.post(URL, json={"customer_id": KNOWN}, headers=hop)).status == 401
    response = await h.client.post(URL, json={"customer_id": KNOWN}, headers={**hop, **h.auth})
    assert response.status == 200
    assert h.backend.contexts == [PredictCall(client="default", forwarded=True, partition=5)]
    # forwarded calls are answered from the assignment, not from the cache
    await h.client.post(URL, json={"customer_id": KNOWN}, headers={**hop, **h.auth})
    assert len(h.backend.calls) == 2
    bad: dict[str, Any] = {HOP_HEADER: "1", PARTITION_HEADER: "x", **h.auth}
    assert (await h.client.post(URL, json={"customer_id": KNOWN}, headers=bad)).status == 422


def test_allowed_hosts() -> None:
    loopback = HostAllowList(())
    assert all(loopback.allows(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]",
                                            "localhost", "LOCALHOST."))
    assert not any(loopback.allows(h) for h in ("10.0.0.1", "worker-1", "", None,
                                                "localhost.evil.example"))
    listed = HostAllowList(("worker-1", ".predelinq.svc.cluster.local"))
    assert listed.allows("worker-1")
    assert listed.allows("predelinq-worker-0.predelinq.predelinq.svc.cluster.local")
    assert not listed.allows("predelinq.svc.cluster.local")  # the suffix itself is no host
    assert not listed.allows("evilpredelinq.svc.cluster.local")
    assert not listed.allows("worker-10")
    assert not listed.allows("127.0.0.1")  # a list replaces the loopback default

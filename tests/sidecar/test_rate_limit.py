"""RATE_LIMIT_MAX_REQUESTS requests per RATE_LIMIT_WINDOW per client: 429 with Retry-After, then
recovery."""

from __future__ import annotations

import hashlib

from stream_app.sidecar._ratelimit import RateLimiter

from .conftest import KEY, KNOWN, PREFIX, FakeClock, StartApi

PREDICT = f"{PREFIX}/predict"


async def test_over_the_limit_is_429_with_retry_after_then_recovers(
        start_api: StartApi) -> None:
    h = await start_api(rate_limit_max=3, rate_limit_window=60)
    for _ in range(3):
        response = await h.client.post(PREDICT, json={"customer_id": KNOWN}, headers=h.auth)
        assert response.status == 200
    h.clock.advance(20.5)
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 429
    assert response.headers["Retry-After"] == "40"  # whole seconds, rounded up
    body = await response.json()
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    h.clock.advance(39)
    assert (await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                headers=h.auth)).headers["Retry-After"] == "1"
    h.clock.advance(1)  # the window has closed
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 200


async def test_wrong_keys_are_limited_by_address_and_do_not_use_the_keys_budget(
        start_api: StartApi) -> None:
    h = await start_api(rate_limit_max=2)
    for n in range(2):  # guessing keys from one address
        response = await h.client.get(f"{PREFIX}/customers/{KNOWN}/risk",
                                      headers={"X-API-Key": f"guess-{n}"})
        assert response.status == 401
    response = await h.client.get(f"{PREFIX}/customers/{KNOWN}/risk",
                                  headers={"X-API-Key": "guess-3"})
    assert response.status == 429
    assert (await h.client.get(f"{PREFIX}/openapi.json")).status == 429  # same address
    # the valid key is its own client
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 200


async def test_health_is_never_limited(start_api: StartApi) -> None:
    h = await start_api(rate_limit_max=1)
    for _ in range(5):
        assert (await h.client.get(f"{PREFIX}/health")).status == 200
        assert (await h.client.get("/health")).status == 200


async def test_in_development_clients_are_their_addresses(start_api: StartApi) -> None:
    h = await start_api(require_key=False, api_key=None, rate_limit_max=1)
    assert (await h.client.post(PREDICT, json={"customer_id": KNOWN})).status == 200
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={"X-API-Key": KEY})
    assert response.status == 429


def test_limiter_windows_and_memory_bound() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(2, 10.0, clock=clock, max_clients=3)
    assert [limiter.hit("a"), limiter.hit("a"), limiter.hit("a")] == [None, None, 10]
    clock.advance(9.2)
    assert limiter.hit("a") == 1
    clock.advance(0.8)
    assert limiter.hit("a") is None
    for client in ("b", "c", "d", "e"):
        limiter.hit(client)
    assert len(limiter) == 3  # "a" and "b", least recently seen, were forgotten
    assert limiter.hit("e") is None
    assert limiter.hit("e") == 10


async def test_each_key_name_has_its_own_bucket(start_api: StartApi) -> None:
    crm_key, batch_key = "crm-key-0123456789abcdef", "batch-key-0123456789abcdef"
    entries = tuple(f"{name}:{hashlib.sha256(key.encode()).hexdigest()}"
                    for name, key in (("crm", crm_key), ("batch", batch_key)))
    h = await start_api(api_keys=entries, rate_limit_max=2)
    for key in (crm_key, crm_key):
        assert (await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                    headers={"X-API-Key": key})).status == 200
    assert (await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                headers={"X-API-Key": crm_key})).status == 429
    # another client (key name) from the same address has its own budget
    assert (await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                headers={"X-API-Key": batch_key})).status == 200
    assert (await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                headers=h.auth)).status == 200
    assert h.api.middleware._limiter._windows.keys() == {"key:crm", "key:batch",
                                                          "key:default"}

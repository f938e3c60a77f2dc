"""POST {API_PREFIX}/predict: scores, reasons, cache, validation and backend failures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from stream_app.sidecar import PredictUnavailable

from .conftest import KEY, KNOWN, PREFIX, FakeBackend, StartApi, prediction

URL = f"{PREFIX}/predict"


def assert_error(body: dict[str, Any], status: int, code: str | None = None) -> None:
    error = body["error"]
    assert error["status"] == status
    assert error["request_id"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code


async def test_predict_scores_a_known_customer_with_reasons(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert body == {
        "customer_id": KNOWN,
        "as_of": "2026-03-01T09:00:00.000Z",
        "probability": 0.85,
        "score": 85,
        "band": "HIGH",
        "model_version": "v-test",
        "reasons": [
            {"code": "SALARY_LATE", "feature": "days_since_salary", "value": 41.0,
             "contribution": 0.8, "text": "Salary later than usual"},
            # NaN is not JSON: a non-finite value is null
            {"code": "NEAR_LIMIT", "feature": "utilisation", "value": None,
             "contribution": 0.3, "text": "Near the credit limit"},
        ],
        "cached": False,
        "track": "PRE_DELINQUENCY",
        "days_past_due": 0,
        "roll_probability": None,
        "cure_probability": None,
    }
    assert h.backend.calls == [KNOWN]


async def test_unknown_customer_is_404_and_not_cached(start_api: StartApi) -> None:
    h = await start_api()
    for _ in range(2):
        response = await h.client.post(URL, json={"customer_id": "C-unknown"}, headers=h.auth)
        assert response.status == 404
        body = await response.json()
        assert_error(body, 404, "not_found")
        assert "C-unknown" not in body["error"]["message"]
    assert h.backend.calls == ["C-unknown", "C-unknown"]


async def test_answers_are_cached_for_cache_ttl(start_api: StartApi) -> None:
    h = await start_api(cache_ttl=30)
    first = await (await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)).json()
    h.clock.advance(29)
    second = await (await h.client.post(URL, json={"customer_id": KNOWN},
                                        headers=h.auth)).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert {**first, "cached": True} == second
    assert h.backend.calls == [KNOWN]
    h.clock.advance(1)  # the entry expires after exactly CACHE_TTL seconds
    third = await (await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)).json()
    assert third["cached"] is False
    assert h.backend.calls == [KNOWN, KNOWN]


async def test_cache_ttl_zero_disables_the_cache(start_api: StartApi) -> None:
    h = await start_api(cache_ttl=0)
    for _ in range(3):
        body = await (await h.client.post(URL, json={"customer_id": KNOWN},
                                          headers=h.auth)).json()
        assert body["cached"] is False
    assert len(h.backend.calls) == 3
    assert len(h.api.cache) == 0


async def test_the_cache_is_bounded(start_api: StartApi) -> None:
    backend = FakeBackend(customers={f"C{n}": prediction(f"C{n}") for n in range(5)})
    h = await start_api(backend=backend, cache_max_entries=3)
    for n in range(5):
        assert (await h.client.post(URL, json={"customer_id": f"C{n}"},
                                    headers=h.auth)).status == 200
    assert len(h.api.cache) == 3
    # the least recently used went first: C0 is asked again, C4 is served from the cache
    await h.client.post(URL, json={"customer_id": "C0"}, headers=h.auth)
    body = await (await h.client.post(URL, json={"customer_id": "C4"}, headers=h.auth)).json()
    assert body["cached"] is True
    assert backend.calls.count("C0") == 2


async def test_malformed_json_is_400(start_api: StartApi) -> None:
    h = await start_api()
    for raw in (b"{", b"not json", b'{"customer_id": NaN}', b"\xff\xfe"):
        response = await h.client.post(URL, data=raw, headers={
            **h.auth, "Content-Type": "application/json"})
        assert response.status == 400, raw
        assert_error(await response.json(), 400, "malformed_json")
    assert h.backend.calls == []


@pytest.mark.parametrize("body", [
    [], "C1", 17, None, {}, {"customerId": "C1"}, {"customer_id": 17},
    {"customer_id": None}, {"customer_id": ""}, {"customer_id": "x" * 129},
    {"customer_id": ["C1"]},
])
async def test_wrong_shape_type_or_length_is_422(start_api: StartApi, body: Any) -> None:
    h = await start_api()
    response = await h.client.post(URL, data=json.dumps(body), headers={
        **h.auth, "Content-Type": "application/json"})
    assert response.status == 422
    assert_error(await response.json(), 422, "validation_error")
    assert h.backend.calls == []


async def test_lone_surrogate_customer_id_is_422(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(URL, data=b'{"customer_id": "\\ud800"}', headers={
        **h.auth, "Content-Type": "application/json"})
    assert response.status == 422


async def test_a_128_character_id_is_accepted(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(URL, json={"customer_id": "x" * 128}, headers=h.auth)
    assert response.status == 404  # valid, unknown
    assert h.backend.calls == ["x" * 128]


async def test_non_json_content_type_is_415_and_large_body_413(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(URL, data=b'{"customer_id": "C1"}',
                                   headers={**h.auth, "Content-Type": "text/plain"})
    assert response.status == 415
    assert_error(await response.json(), 415, "unsupported_media_type")
    response = await h.client.post(URL, data=b'{"customer_id": "C1", "pad": "' + b"x" * 20_000
                                   + b'"}', headers={**h.auth, "Content-Type": "application/json"})
    assert response.status == 413
    assert_error(await response.json(), 413, "payload_too_large")


async def test_backend_unavailable_is_503_with_retry_after(start_api: StartApi) -> None:
    backend = FakeBackend(unavailable=PredictUnavailable("rebalancing", retry_after=7))
    h = await start_api(backend=backend)
    response = await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 503
    assert response.headers["Retry-After"] == "7"
    assert_error(await response.json(), 503, "unavailable")
    backend.unavailable = PredictUnavailable()  # default Retry-After
    response = await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.headers["Retry-After"] == "5"
    backend.unavailable = None  # nothing was cached meanwhile
    body = await (await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)).json()
    assert body["cached"] is False


async def test_a_slow_backend_times_out_with_503(start_api: StartApi) -> None:
    h = await start_api(backend=FakeBackend(delay=5), predict_timeout=0.05)
    response = await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_broken_backend_answer_is_a_json_500_without_personal_data(
        start_api: StartApi, caplog: pytest.LogCaptureFixture) -> None:
    backend = FakeBackend(customers={KNOWN: {"score": 3}})  # missing fields
    h = await start_api(backend=backend)
    with caplog.at_level(logging.DEBUG, logger="stream_app.sidecar"):
        response = await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
    assert response.status == 500
    assert_error(await response.json(), 500, "internal_error")
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            assert KNOWN not in record.getMessage()


async def test_logs_at_info_hold_neither_customer_ids_nor_the_key(
        start_api: StartApi, caplog: pytest.LogCaptureFixture) -> None:
    h = await start_api()
    with caplog.at_level(logging.INFO, logger="stream_app.sidecar"):
        await h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth)
        await h.client.post(URL, json={"customer_id": "C-unknown"}, headers=h.auth)
        await h.client.get(f"{PREFIX}/customers/{KNOWN}/risk", headers=h.auth)
        await h.client.post(URL, json={"customer_id": KNOWN}, headers={"X-API-Key": "wrong"})
    # our own log lines (the test server's aiohttp access log is off in the real sidecar)
    lines = [r.getMessage() for r in caplog.records
             if r.levelno >= logging.INFO and r.name.startswith("stream_app")]
    assert any(f"route={URL}" in line and "status=200" in line for line in lines)
    assert any(f"route={PREFIX}/customers/{{customer_id}}/risk" in line for line in lines)
    for line in lines:
        assert KNOWN not in line
        assert "C-unknown" not in line
        assert KEY not in line
        assert "request_id=" in line


async def test_concurrent_requests_are_all_answered(start_api: StartApi) -> None:
    h = await start_api(backend=FakeBackend(delay=0.01))
    responses = await asyncio.gather(*[
        h.client.post(URL, json={"customer_id": KNOWN}, headers=h.auth) for _ in range(10)])
    assert {r.status for r in responses} == {200}


async def test_a_chunked_body_over_the_limit_is_413_without_reading_it_all(
        start_api: StartApi) -> None:
    h = await start_api()
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        yield b'{"customer_id": "C1", "pad": "'
        for n in range(1_000):  # 4 MB if it were all read
            sent.append(n)
            yield b"x" * 4096
            await asyncio.sleep(0)
        yield b'"}'

    try:
        response = await h.client.post(URL, data=chunks(), headers={
            **h.auth, "Content-Type": "application/json"})
        status = response.status
        assert_error(await response.json(), 413, "payload_too_large")
    except aiohttp.ClientError:  # the server closed the connection once it had answered
        status = 413
    assert status == 413
    assert len(sent) < 64  # 16 KiB is 4 chunks; aiohttp alone reads 1 MiB (256) first
    assert h.backend.calls == []


async def test_debug_logs_of_the_predict_path_hold_neither_personal_data_nor_the_key(
        start_api: StartApi, caplog: pytest.LogCaptureFixture) -> None:
    customer = "CUST-0000042"

    class LeakyBackend(FakeBackend):
        async def predict(self, customer_id: str, call: Any = None) -> Any:
            raise RuntimeError(f"no state for customer_id={customer_id} (key {KEY})")

    h = await start_api(backend=LeakyBackend())
    with caplog.at_level(logging.DEBUG):
        response = await h.client.post(URL, json={"customer_id": customer}, headers=h.auth)
    assert response.status == 500
    text = caplog.text  # messages and tracebacks, every level
    assert "traceback" in text
    assert "RuntimeError" in text
    assert customer not in text
    assert KEY not in text

"""CORS for CORS_ORIGINS only, preflight answers; X-Request-ID echoed or generated."""

from __future__ import annotations

import logging
import re

import pytest

from stream_app.sidecar._request_id import request_id

from .conftest import KNOWN, ORIGIN, PREFIX, StartApi

PREDICT = f"{PREFIX}/predict"


async def test_a_listed_origin_may_read_answers(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={**h.auth, "Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["Vary"] == "Origin"
    # errors too, so the browser can show them
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={"Origin": ORIGIN})
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_other_origins_get_no_cors_headers(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={**h.auth, "Origin": "https://evil.example"})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"


async def test_preflight_of_a_listed_origin_is_204_without_a_key(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.options(PREDICT, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type"})
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {
        "POST", "OPTIONS"}
    allowed = {h.strip().lower() for h in
               response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-api-key", "content-type", "x-request-id"} <= allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert response.headers["X-Request-ID"]
    response = await h.client.options(f"{PREFIX}/customers/{KNOWN}/risk", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status == 204
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


async def test_preflight_of_another_origin_is_403(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.options(PREDICT, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (await response.json())["error"]["code"] == "cors_origin_not_allowed"


async def test_wildcard_origin_outside_production(start_api: StartApi) -> None:
    h = await start_api(cors_origins=("*",))
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={**h.auth, "Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_no_cors_origins_no_cors_headers(start_api: StartApi) -> None:
    h = await start_api(cors_origins=())
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={**h.auth, "Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Vary" not in response.headers


async def test_request_id_is_echoed(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={**h.auth, "X-Request-ID": "abc-123_x.y"})
    assert response.headers["X-Request-ID"] == "abc-123_x.y"
    response = await h.client.post(PREDICT, json={}, headers={**h.auth,
                                                              "X-Request-ID": "req-7"})
    assert response.status == 422
    assert (await response.json())["error"]["request_id"] == "req-7"


async def test_request_id_is_generated_when_absent_or_unusable(start_api: StartApi) -> None:
    h = await start_api()
    ids = set()
    for header in ({}, {"X-Request-ID": "<>{}"}):
        response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                       headers={**h.auth, **header})
        rid = response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        ids.add(rid)
    assert len(ids) == 2


@pytest.mark.parametrize(("header", "expected"), [
    ("abc", "abc"), ("a b\tc", "abc"), ("x" * 100, "x" * 64), ("ok<script>", "okscript"),
    ("é-1", "-1"),
])
def test_request_id_sanitising(header: str, expected: str) -> None:
    assert request_id(header) == expected


async def test_the_access_log_carries_the_request_id_as_a_field(
        start_api: StartApi, caplog: pytest.LogCaptureFixture) -> None:
    h = await start_api()
    with caplog.at_level(logging.INFO, logger="stream_app.sidecar.api"):
        await h.client.post(PREDICT, json={"customer_id": KNOWN},
                            headers={**h.auth, "X-Request-ID": "trace-42"})
    records = [r for r in caplog.records if r.name == "stream_app.sidecar.api"
               and r.getMessage().startswith("request_id=")]
    assert [getattr(r, "request_id", None) for r in records] == ["trace-42"]

"""X-API-Key: required outside development, compared in constant time; public routes stay
public."""

from __future__ import annotations

import pytest

from stream_app.settings import Settings
from stream_app.sidecar import ApiConfig
from stream_app.sidecar._auth import ApiKeyAuth

from .conftest import KEY, KNOWN, PREFIX, StartApi

PREDICT = f"{PREFIX}/predict"
PROTECTED = [("POST", PREDICT), ("GET", f"{PREFIX}/customers/{KNOWN}/risk"),
             ("GET", f"{PREFIX}/customers/{KNOWN}/interventions")]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("key", [None, "wrong", KEY[:-1], KEY + "x", ""])
async def test_missing_or_wrong_key_is_401(start_api: StartApi, method: str, path: str,
                                           key: str | None) -> None:
    h = await start_api()
    headers = {} if key is None else {"X-API-Key": key}
    response = await h.client.request(method, path, json={"customer_id": KNOWN},
                                      headers=headers)
    assert response.status == 401
    assert "X-API-Key" in response.headers["WWW-Authenticate"]
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    assert KEY not in await response.text()
    assert h.backend.calls == []


async def test_the_right_key_is_accepted(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={"X-API-Key": KEY})
    assert response.status == 200


async def test_development_needs_no_key_production_does() -> None:
    dev = ApiConfig.from_settings(Settings(environment="development"))
    prod = ApiConfig.from_settings(Settings(environment="production", api_key=KEY,
                                            database_url="postgresql://h/db"))
    staging = ApiConfig.from_settings(Settings(environment="staging"))
    assert (dev.require_key, prod.require_key, staging.require_key) == (False, True, True)
    assert prod.api_key == KEY
    assert prod.database_url == "postgresql://h/db"
    assert KEY not in repr(prod)
    assert "postgresql" not in repr(prod)


async def test_in_development_requests_without_key_pass(start_api: StartApi) -> None:
    h = await start_api(require_key=False, api_key=None)
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN})
    assert response.status == 200


async def test_without_a_configured_key_production_refuses_everything(
        start_api: StartApi) -> None:
    h = await start_api(api_key=None)
    for key in (None, "", "anything"):
        headers = {} if key is None else {"X-API-Key": key}
        response = await h.client.post(PREDICT, json={"customer_id": KNOWN}, headers=headers)
        assert response.status == 401


async def test_router_errors_need_no_key(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.get(f"{PREFIX}/no-such-route")
    assert response.status == 404
    for method, path in (("DELETE", f"{PREFIX}/health"), ("GET", PREDICT),
                         ("TRACE", f"{PREFIX}/openapi.json")):
        response = await h.client.request(method, path)
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", f"{PREFIX}/health",
                                  f"{PREFIX}/openapi.json"])
async def test_public_routes_need_no_key(start_api: StartApi, path: str) -> None:
    h = await start_api()
    response = await h.client.get(path)
    assert response.status == 200


async def test_api_health_keeps_its_answer(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.get(f"{PREFIX}/health")
    assert await response.json() == {"status": "ok", "model_loaded": True,
                                     "model_version": "v-test"}
    assert response.headers["X-Request-ID"]


def test_key_comparison() -> None:
    auth = ApiKeyAuth(KEY, required=True)
    assert auth.matches(KEY)
    assert not auth.matches(KEY.upper())
    assert not auth.matches("")
    assert not auth.matches(None)
    assert not auth.matches("\udcff")  # undecodable header bytes never match, never raise
    assert not ApiKeyAuth(None, required=True).matches("")
    assert ApiKeyAuth(None, required=False).allows(None)
    # the rate-limit identity never contains the key
    assert KEY not in auth.client(KEY, "127.0.0.1")
    assert auth.client("wrong", "10.0.0.1") == "addr:10.0.0.1"

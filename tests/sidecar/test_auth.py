"""X-API-Key: required outside development, compared in constant time; public routes stay
public."""

from __future__ import annotations

import hashlib
import logging

import pytest

from stream_app.settings import ConfigurationError, Settings
from stream_app.sidecar import ApiConfig
from stream_app.sidecar._auth import ApiKeyAuth
from stream_app.sidecar._keys import parse_api_keys

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


@pytest.mark.parametrize("path", ["/health", "/ready", f"{PREFIX}/health",
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
    auth = ApiKeyAuth(parse_api_keys((), api_key=KEY), required=True)
    assert auth.matches(KEY)
    assert not auth.matches(KEY.upper())
    assert not auth.matches("")
    assert not auth.matches(None)
    assert not auth.matches("\udcff")  # undecodable header bytes never match, never raise
    assert not ApiKeyAuth((), required=True).matches("")
    assert ApiKeyAuth((), required=False).allows(None)
    # the rate-limit identity never contains the key
    assert KEY not in auth.client(KEY, "127.0.0.1")
    assert auth.client("wrong", "10.0.0.1") == "addr:10.0.0.1"
    assert auth.client(KEY, "127.0.0.1") == "key:default"  # API_KEY's name


# --- issue 20: several keys (M4), auth never off outside development (M3), prefix (L1) ------
def _entry(name: str, key: str) -> str:
    return f"{name}:{hashlib.sha256(key.encode()).hexdigest()}"


CRM_KEY = "crm-key-0123456789abcdef"
BATCH_KEY = "batch-key-0123456789abcdef"


async def test_every_key_of_api_keys_authenticates_beside_api_key(start_api: StartApi) -> None:
    h = await start_api(api_keys=(_entry("crm", CRM_KEY), _entry("batch", BATCH_KEY)),
                        cache_ttl=0)
    for key in (KEY, CRM_KEY, BATCH_KEY):
        response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                       headers={"X-API-Key": key})
        assert response.status == 200
    # the hash is not a key
    wrong = hashlib.sha256(CRM_KEY.encode()).hexdigest()
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                   headers={"X-API-Key": wrong})
    assert response.status == 401
    assert [c.client for c in h.backend.contexts] == ["default", "crm", "batch"]


@pytest.mark.parametrize("entry", [
    "crm", "crm:", ":" + "a" * 64, "crm:" + "a" * 63, "crm:" + "g" * 64, "c rm:" + "a" * 64,
    "crm:" + "a" * 64 + "ff", "x" * 65 + ":" + "a" * 64,
])
def test_a_malformed_api_keys_entry_is_refused_naming_api_keys(entry: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        ApiConfig.from_settings(Settings(environment="test",
                                         api_keys=(_entry("ok", CRM_KEY), entry)))
    message = str(refused.value)
    assert "API_KEYS entry 2" in message
    assert entry not in message


def test_api_keys_names_are_unique_and_api_key_is_default() -> None:
    with pytest.raises(ConfigurationError, match="API_KEYS entry 2 repeats"):
        ApiConfig(api_keys=(_entry("crm", CRM_KEY), _entry("crm", BATCH_KEY)))
    with pytest.raises(ConfigurationError, match="API_KEYS entry 1 repeats"):
        ApiConfig(api_key=KEY, api_keys=(_entry("default", CRM_KEY),))
    config = ApiConfig.from_settings(Settings(environment="test", api_key=KEY,
                                              api_keys=(_entry("crm", CRM_KEY),)))
    assert [k.name for k in config.keys] == ["default", "crm"]
    assert CRM_KEY not in repr(config)
    assert hashlib.sha256(CRM_KEY.encode()).hexdigest() not in repr(config)


def test_production_without_any_key_refuses_to_run() -> None:
    with pytest.raises(ConfigurationError, match="API_KEY or API_KEYS"):
        ApiConfig.from_settings(Settings(environment="production",
                                         database_url="postgresql://h/db"))
    # API_KEYS alone is enough
    config = ApiConfig.from_settings(Settings(environment="production",
                                              api_keys=(_entry("crm", CRM_KEY),)))
    assert config.require_key


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
async def test_auth_is_never_off_outside_development(start_api: StartApi,
                                                     environment: str) -> None:
    settings = Settings(environment=environment, debug=True, api_key=KEY,
                        metrics_public_info=True)
    config = ApiConfig.from_settings(settings)
    assert config.require_key
    h = await start_api(require_key=config.require_key, api_key=config.api_key)
    response = await h.client.post(PREDICT, json={"customer_id": KNOWN})
    assert response.status == 401
    assert h.backend.calls == []


@pytest.mark.parametrize("prefix", ["/api/{x}", "/{x}", "/api/v1/{tail:.*}", "/api/%7Bx%7D",
                                    "/api/v1/", "api", "/api//v1", "/api/..", "/a b", "/api/*"])
def test_a_prefix_with_route_pattern_characters_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="API_PREFIX"):
        ApiConfig(prefix=prefix)


@pytest.mark.parametrize("prefix", ["/", "/api/v1", "/risk-api/v2.1", "/a_b/~c"])
def test_plain_prefixes_are_accepted(prefix: str) -> None:
    assert ApiConfig(prefix=prefix).prefix == prefix


@pytest.mark.parametrize("prefix", ["/api/v1", "/risk", "/"])
async def test_every_api_route_requires_the_key(start_api: StartApi, prefix: str) -> None:
    h = await start_api(prefix=prefix)
    base = "" if prefix == "/" else prefix
    public = {f"{base}/health", f"{base}/openapi.json", "/health", "/ready"}
    checked = 0
    for route in h.client.app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD" or resource.canonical in public:
            continue
        path = resource.canonical.replace("{customer_id}", KNOWN)
        response = await h.client.request(route.method, path, json={"customer_id": KNOWN})
        assert response.status == 401, (route.method, resource.canonical)
        checked += 1
    assert checked >= 4  # predict, risk, interventions, /metrics
    assert h.backend.calls == []


async def test_the_key_name_is_logged_at_debug_only_never_the_key(
        start_api: StartApi, caplog: pytest.LogCaptureFixture) -> None:
    h = await start_api(api_keys=(_entry("crm", CRM_KEY),))
    with caplog.at_level(logging.DEBUG, logger="stream_app.sidecar"):
        response = await h.client.post(PREDICT, json={"customer_id": KNOWN},
                                       headers={"X-API-Key": CRM_KEY})
    assert response.status == 200
    named = [r for r in caplog.records if "key_name=crm" in r.getMessage()]
    assert named
    assert all(r.levelno == logging.DEBUG for r in named)
    for record in caplog.records:
        assert CRM_KEY not in record.getMessage()
        assert "key_name" not in record.getMessage() or record.levelno == logging.DEBUG

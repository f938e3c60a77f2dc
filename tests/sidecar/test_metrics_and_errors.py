"""Metrics label route templates (never raw paths); every error is JSON."""

from __future__ import annotations

from prometheus_client import generate_latest

from .conftest import KNOWN, PREFIX, StartApi


async def test_metrics_use_route_templates(start_api: StartApi) -> None:
    h = await start_api()
    await h.client.post(f"{PREFIX}/predict", json={"customer_id": KNOWN}, headers=h.auth)
    await h.client.post(f"{PREFIX}/predict", json={"customer_id": "C-secret-9"},
                        headers=h.auth)
    await h.client.get(f"{PREFIX}/customers/C-secret-9/risk", headers=h.auth)
    await h.client.get(f"{PREFIX}/customers/C-secret-9/interventions?limit=0", headers=h.auth)
    await h.client.get(f"{PREFIX}/customers/C-secret-9/nothing", headers=h.auth)
    text = (await (await h.client.get("/metrics", headers=h.auth)).text())
    assert "predelinq_api_requests_total" in generate_latest(h.metrics.registry).decode()
    assert "C-secret-9" not in text
    assert KNOWN not in text
    assert ('predelinq_api_requests_total{method="POST",route="/api/v1/predict",'
            'status="200"} 1.0') in text
    assert ('predelinq_api_requests_total{method="POST",route="/api/v1/predict",'
            'status="404"} 1.0') in text
    assert ('predelinq_api_requests_total{method="GET",'
            'route="/api/v1/customers/{customer_id}/risk",status="503"} 1.0') in text
    assert ('predelinq_api_requests_total{method="GET",'
            'route="/api/v1/customers/{customer_id}/interventions",status="422"} 1.0') in text
    assert 'predelinq_api_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert ('predelinq_api_request_duration_seconds_count{route="/api/v1/predict"} 2.0'
            in text)
    # the sidecar's own routes are not API requests
    assert 'route="/metrics"' not in text


async def test_unknown_routes_and_methods_are_json_errors(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.get(f"{PREFIX}/nothing-here", headers=h.auth)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await h.client.get(f"{PREFIX}/predict", headers=h.auth)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    body = await response.json()
    assert body["error"]["code"] == "method_not_allowed"
    response = await h.client.delete(f"{PREFIX}/customers/{KNOWN}/risk", headers=h.auth)
    assert response.status == 405
    assert response.headers["Allow"] == "GET"


async def test_api_answers_are_not_cacheable_by_intermediaries(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.post(f"{PREFIX}/predict", json={"customer_id": KNOWN},
                                   headers=h.auth)
    assert response.headers["Cache-Control"] == "no-store"


async def test_openapi_document_describes_every_route(start_api: StartApi) -> None:
    h = await start_api()
    document = await (await h.client.get(f"{PREFIX}/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        f"{PREFIX}/predict", f"{PREFIX}/customers/{{customer_id}}/risk",
        f"{PREFIX}/customers/{{customer_id}}/interventions", f"{PREFIX}/health",
        f"{PREFIX}/openapi.json"}
    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": document["components"]["securitySchemes"]["ApiKeyAuth"]["description"]}
    predict = document["paths"][f"{PREFIX}/predict"]["post"]["responses"]
    assert {"200", "400", "401", "404", "413", "415", "422", "429", "503"} <= set(predict)
    # every route the app serves under the prefix is documented
    served = {r.resource.canonical for r in h.client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith(PREFIX)}
    assert served == set(document["paths"])

"""GET /customers/{id}/risk and /customers/{id}/interventions against a real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from stream_app.brokers import free_port

from .conftest import KNOWN, NO_INTERVENTIONS, PREFIX, StartApi, fresh_database

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def risk_url(customer: str) -> str:
    return f"{PREFIX}/customers/{customer}/risk"


def interventions_url(customer: str) -> str:
    return f"{PREFIX}/customers/{customer}/interventions"


@pytest.mark.integration
async def test_latest_risk_score(start_api: StartApi, audit_db: str,
                                 request: pytest.FixtureRequest) -> None:
    h = await start_api(database_url=audit_db)
    response = await h.client.get(risk_url(KNOWN), headers=h.auth)
    assert response.status == 200
    body = await response.json()
    assert body["customer_id"] == KNOWN
    assert (body["score"], body["band"], body["probability"]) == (85, "HIGH", 0.85)
    assert body["scored_at"] == "2026-03-02T10:00:00.000Z"  # the newer of the two
    assert body["as_of"] == "2026-03-02T09:59:00.000Z"
    assert ISO_UTC.fullmatch(body["recorded_at"])
    assert body["reasons"] == [{"code": "SALARY_LATE", "feature": "days_since_salary",
                                "value": 41.0, "contribution": 0.8,
                                "text": "Salary later than usual"}]
    assert body["trigger_topic"] == "bank.payments.v1"
    assert body["features_sha256"] is None
    # revision 3 columns: the seeded rows predate them (UNKNOWN); without migration 0003, null
    migrated = "migrations-latest" in request.node.callspec.id
    assert body["track"] == ("UNKNOWN" if migrated else None)
    assert (body["days_past_due"], body["roll_probability"], body["cure_probability"]) == (
        None, None, None)


@pytest.mark.integration
async def test_interventions_newest_first_with_limit(start_api: StartApi,
                                                     audit_db: str) -> None:
    h = await start_api(database_url=audit_db)
    body = await (await h.client.get(interventions_url(KNOWN), headers=h.auth)).json()
    assert body["limit"] == 20
    assert body["customer_id"] == KNOWN
    created = [i["created_at"] for i in body["interventions"]]
    assert created == ["2026-03-01T11:00:00.000Z", "2026-03-01T10:00:00.000Z",
                       "2026-03-01T09:00:00.000Z"]
    first = body["interventions"][0]
    assert first["experiment_arm"] == "TREATMENT"
    assert ISO_UTC.fullmatch(first["expires_at"])
    oldest = body["interventions"][-1]
    migrated = "actionable" in await _columns(audit_db)
    if migrated:  # migration 0002 columns are read when present
        assert (oldest["actionable"], oldest["rule"]) == (False, "COOLDOWN")
        assert (first["actionable"], first["rule"]) == (True, None)
    else:
        assert (oldest["actionable"], oldest["rule"]) == (None, None)
    body = await (await h.client.get(interventions_url(KNOWN) + "?limit=2",
                                     headers=h.auth)).json()
    assert body["limit"] == 2
    assert len(body["interventions"]) == 2


async def _columns(url: str) -> set[str]:
    import asyncpg
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT column_name FROM information_schema.columns "
                                "WHERE table_name = 'interventions'")
    finally:
        await conn.close()
    return {r["column_name"] for r in rows}


@pytest.mark.integration
async def test_a_scored_customer_without_interventions_gets_an_empty_list(
        start_api: StartApi, audit_db: str) -> None:
    h = await start_api(database_url=audit_db)
    response = await h.client.get(interventions_url(NO_INTERVENTIONS), headers=h.auth)
    assert response.status == 200
    assert (await response.json())["interventions"] == []


@pytest.mark.integration
@pytest.mark.parametrize("customer", ["C-unknown", "a/b", "nul\x00byte", "é" * 128])
async def test_unknown_customers_are_404(start_api: StartApi, audit_db: str,
                                         customer: str) -> None:
    from urllib.parse import quote

    from yarl import URL
    h = await start_api(database_url=audit_db)
    for url in (risk_url, interventions_url):
        response = await h.client.get(URL(url(quote(customer, safe="")), encoded=True),
                                      headers=h.auth)
        assert response.status == 404
        body = await response.json()
        assert body["error"]["code"] == "not_found"
        assert customer not in body["error"]["message"]


@pytest.mark.integration
@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "1e2", "20&limit=3"])
async def test_limit_out_of_range_or_not_an_integer_is_422(start_api: StartApi, audit_db: str,
                                                           limit: str) -> None:
    h = await start_api(database_url=audit_db)
    response = await h.client.get(f"{interventions_url(KNOWN)}?limit={limit}", headers=h.auth)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "validation_error"


@pytest.mark.integration
async def test_limit_bounds_are_accepted(start_api: StartApi, audit_db: str) -> None:
    h = await start_api(database_url=audit_db)
    for limit in ("1", "100"):
        response = await h.client.get(f"{interventions_url(KNOWN)}?limit={limit}",
                                      headers=h.auth)
        assert response.status == 200


async def test_customer_id_longer_than_128_is_422(start_api: StartApi) -> None:
    h = await start_api()  # validated before the database is asked
    for url in (risk_url, interventions_url):
        response = await h.client.get(url("x" * 129), headers=h.auth)
        assert response.status == 422


async def test_no_database_url_is_503(start_api: StartApi) -> None:
    h = await start_api(database_url=None)
    for url in (risk_url, interventions_url):
        response = await h.client.get(url(KNOWN), headers=h.auth)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        body = await response.json()
        assert body["error"]["code"] == "unavailable"


async def test_unreachable_database_is_503(start_api: StartApi) -> None:
    closed = f"postgresql://predelinq:secret-pw@127.0.0.1:{free_port()}/nothing"
    h = await start_api(database_url=closed)
    for url in (risk_url, interventions_url):
        response = await h.client.get(url(KNOWN), headers=h.auth)
        assert response.status == 503
        assert "secret-pw" not in await response.text()


@pytest.fixture
def empty_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


@pytest.mark.integration
async def test_database_without_the_audit_tables_is_503(start_api: StartApi,
                                                        empty_db: str) -> None:
    h = await start_api(database_url=empty_db)  # migrations not applied
    for url in (risk_url, interventions_url):
        response = await h.client.get(url(KNOWN), headers=h.auth)
        assert response.status == 503

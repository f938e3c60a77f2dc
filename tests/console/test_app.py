"""The console over aiohttp's test server and a real PostgreSQL: auth, the pages' figures
against the seeded rows, the customer timeline, the models pages, the pure helpers."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import math
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from stream_app.console import ConsoleConfig, build_app, offered_key, portfolio
from stream_app.console._drift import psi, psi_series
from tests.console.conftest import FIRST, KEY, SECOND, Seeded
from tests.support.databases import fresh_database

pytestmark = pytest.mark.integration


def basic(password: str, user: str = "ops") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def client(seeded: Seeded) -> AsyncIterator[TestClient]:
    config = ConsoleConfig.with_key(seeded.url, seeded.registry, KEY, window_days=7)
    async with TestClient(TestServer(build_app(config))) as test_client:
        yield test_client


@pytest.mark.parametrize("headers", [
    {}, basic("wrong-key"), {"Authorization": "Bearer " + KEY}, {"X-API-Key": KEY},
    {"Authorization": "Basic !!!"},
])
@pytest.mark.parametrize("path", ["/", f"/customers/{FIRST}", "/models", "/search?customer_id=x"])
async def test_every_page_needs_the_key_and_shows_no_data_without_it(
        client: TestClient, headers: dict[str, str], path: str) -> None:
    response = await client.get(path, headers=headers, allow_redirects=False)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert FIRST not in await response.text()


async def test_probes_are_public_and_carry_no_data(client: TestClient) -> None:
    health = await client.get("/health")
    ready = await client.get("/ready")
    assert (health.status, ready.status) == (200, 200)
    assert (await ready.json())["database"] is True


async def test_portfolio_counts_the_seeded_rows(client: TestClient) -> None:
    response = await client.get("/", headers=basic(KEY))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = await response.text()
    # the window ends on the newest score's day by default (2026-03-03), 7 days
    assert "2026-02-25 to 2026-03-03" in text
    assert '<span id="scores-total">6</span>' in text
    assert '<span id="interventions-total">1</span>' in text
    assert '<span id="suppressions-total">2</span>' in text
    for chart in ("chart-bands", "chart-tracks", "chart-actions", "chart-suppressions",
                  "chart-mean", "chart-psi", "chart-features"):
        assert f'<svg id="{chart}"' in text
    assert FIRST not in text  # the portfolio is aggregates only


async def test_portfolio_window_is_bounded_and_validated(client: TestClient) -> None:
    one_day = await (await client.get("/?days=1&end=2026-03-01", headers=basic(KEY))).text()
    assert '<span id="scores-total">1</span>' in one_day
    for query in ("days=0", "days=400", "days=x", "end=yesterday"):
        assert (await client.get(f"/?{query}", headers=basic(KEY))).status == 400


async def test_portfolio_figures(seeded: Seeded) -> None:
    async with asyncpg.create_pool(seeded.url, min_size=1, max_size=3) as pool:
        data = await portfolio(pool, end=dt.date(2026, 3, 3), days=3)
    assert data.days == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert data.bands == {"2026-03-01": {"LOW": 1}, "2026-03-02": {"HIGH": 1, "MEDIUM": 1},
                          "2026-03-03": {"CRITICAL": 1, "MEDIUM": 1, "LOW": 1}}
    assert data.tracks["2026-03-02"] == {"PRE_DELINQUENCY": 1, "ARREARS": 1}
    assert data.mean_score == pytest.approx({"2026-03-01": 20.0, "2026-03-02": 60.0,
                                             "2026-03-03": 152 / 3})
    assert data.actions == {"2026-03-02": {"PAYMENT_HOLIDAY_OFFER": 1}}
    assert data.suppressions == {"2026-03-03": {"cooldown": 1, "control_group": 1}}
    assert data.features["2026-03-03"] == {"failed_debits_30d": 1, "days_past_due": 1,
                                           "balance_trend": 1}
    assert data.psi[0] == 0.0
    assert data.psi[2] is not None
    assert data.psi[2] > 0.25


async def test_search_opens_the_customer_timeline(client: TestClient) -> None:
    response = await client.get(f"/search?customer_id=+{FIRST}+", headers=basic(KEY),
                                allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/customers/{FIRST}"
    text = await (await client.get(f"/customers/{FIRST}", headers=basic(KEY))).text()
    assert text.count("<tr><td>") == 3 + 2 + 1  # scores, interventions, suppressions rows
    assert "failed_debits_30d (FAILED_DEBITS_30D)" in text
    assert "suppressed: cooldown" in text


async def test_without_the_outcomes_table_the_timeline_says_so(
        seeded: Seeded, client: TestClient) -> None:
    conn = await asyncpg.connect(seeded.url)  # migration 0005 may or may not be there
    try:
        await conn.execute("ALTER TABLE IF EXISTS intervention_outcomes "
                           "RENAME TO intervention_outcomes_hidden")
        text = await (await client.get(f"/customers/{FIRST}", headers=basic(KEY))).text()
    finally:
        await conn.execute("ALTER TABLE IF EXISTS intervention_outcomes_hidden "
                           "RENAME TO intervention_outcomes")
        await conn.close()
    assert 'id="no-outcomes"' in text
    assert 'id="table-scores"' in text


async def test_a_control_arm_decision_is_a_suppression(client: TestClient) -> None:
    text = await (await client.get(f"/customers/{SECOND}", headers=basic(KEY))).text()
    assert "suppressed: control_group" in text


async def test_unknown_customer_and_escaping(client: TestClient) -> None:
    response = await client.get("/customers/%3Cscript%3Ex", headers=basic(KEY))
    assert response.status == 404
    text = await response.text()
    assert "<script>" not in text
    assert "&lt;script&gt;x" in text


async def test_outcomes_are_shown_when_the_table_exists(seeded: Seeded,
                                                      client: TestClient) -> None:
    conn = await asyncpg.connect(seeded.url)
    try:
        # migration 0005's table, or (without it) the columns the console relies on
        await conn.execute("CREATE TABLE IF NOT EXISTS intervention_outcomes (event_id text, "
                           "intervention_id uuid, customer_id text, occurred_at timestamptz, "
                           "outcome text)")
        await conn.execute(
            "INSERT INTO intervention_outcomes (event_id, intervention_id, customer_id, "
            "occurred_at, outcome) SELECT 'o-' || intervention_id, intervention_id, "
            "customer_id, created_at, 'PAYMENT_MADE' FROM interventions WHERE customer_id = $1",
            FIRST)
        text = await (await client.get(f"/customers/{FIRST}", headers=basic(KEY))).text()
        await conn.execute("DELETE FROM intervention_outcomes")
    finally:
        await conn.close()
    assert 'id="table-outcomes"' in text
    assert text.count("PAYMENT_MADE") == 2


async def test_models_pages(client: TestClient) -> None:
    text = await (await client.get("/models", headers=basic(KEY))).text()
    assert "20260301-aaaa" in text
    assert "20260302-bbbb" in text
    assert "champion" in text
    assert "challenger" in text
    assert "0.8123" in text
    report = await (await client.get("/models/20260301-aaaa", headers=basic(KEY))).text()
    assert "# Model report" in report
    assert "&lt;b&gt;" in report
    plot = await client.get("/models/20260301-aaaa/plots/calibration.png", headers=basic(KEY))
    assert plot.status == 200
    assert plot.content_type == "image/png"
    for path in ("/models/nope", "/models/.staging", "/models/20260301-aaaa/plots/metadata.json",
                 "/models/20260301-aaaa/plots/..%2Fmodel.cbm"):
        assert (await client.get(path, headers=basic(KEY))).status == 404


def test_offered_key() -> None:
    assert offered_key(basic("k")["Authorization"]) == "k"
    assert offered_key(basic("a:b", user="u")["Authorization"]) == "a:b"
    assert offered_key("basic " + base64.b64encode(b"nocolon").decode()) is None
    assert offered_key(None) is None
    assert offered_key("Digest x") is None


def test_psi() -> None:
    assert psi({1: 10}, {1: 10}) == 0.0
    assert psi({1: 10}, {}) is None
    # empty buckets get the same floor share on both sides: only buckets 1 and 10 count
    assert psi({1: 5, 10: 5}, {1: 1, 10: 9}) == pytest.approx(0.4 * math.log(5)
                                                              + 0.4 * math.log(1.8))
    # against the first day with scores; a day without scores has no figure
    assert psi_series(["a", "b", "c"], {"b": {1: 3}, "c": {1: 3}}) == [None, 0.0, 0.0]


def test_a_configured_key_is_required_even_in_development() -> None:
    from stream_app.settings import Environment, Settings

    def config(**values: object) -> ConsoleConfig:
        settings = Settings(database_url="postgresql://db/x", environment=Environment.DEVELOPMENT,
                            **values)  # type: ignore[arg-type]
        return ConsoleConfig.from_settings(settings)

    assert config(api_key=KEY).require_key is True
    assert config().require_key is False  # development without any key: a local console
    assert config().keys == ()


def test_a_database_without_the_rollups_is_not_ready_and_says_so(
        postgres_url: str, tmp_path: Path) -> None:
    from stream_app.console._app import REQUIRED_MIGRATION
    from stream_app.db import available_migrations
    from tests.db.test_migrations import _apply_up_to

    rollups = next(m for m in available_migrations() if m.name == "portfolio_daily")
    assert rollups.version == REQUIRED_MIGRATION

    async def scenario(url: str) -> None:
        await _apply_up_to(url, REQUIRED_MIGRATION - 1)
        config = ConsoleConfig.with_key(url, tmp_path, KEY, window_days=7)
        async with TestClient(TestServer(build_app(config))) as older:
            ready = await older.get("/ready")
            assert ready.status == 503
            assert (await ready.json())["migrations"] == (
                f"{REQUIRED_MIGRATION - 1} applied, {REQUIRED_MIGRATION} needed")
            page = await older.get("/", headers=basic(KEY))
            assert page.status == 503
            assert "predelinq migrate" in await page.text()
            # a customer's timeline reads the tables of 0001: still served (this empty trail
            # has no such customer: a 404 page, not an error)
            assert (await older.get(f"/customers/{FIRST}", headers=basic(KEY))).status == 404

    with fresh_database(postgres_url, migrate=False) as url:
        asyncio.run(scenario(url))


async def test_pages_carry_headers_that_keep_them_out_of_caches_frames_and_other_origins(
        client: TestClient) -> None:
    for path in ("/", f"/customers/{FIRST}", "/models"):
        response = await client.get(path, headers=basic(KEY))
        assert response.status == 200, path
        headers = response.headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"  # no customer id in a Referer
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no script runs in these pages


async def test_the_console_cannot_write_to_the_audit_trail(seeded: Seeded) -> None:
    from stream_app.console._app import _default_pool

    pool = await _default_pool(seeded.url)
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pool.execute("DELETE FROM risk_scores")
        assert await pool.fetchval("SELECT count(*) FROM risk_scores") > 0
    finally:
        await pool.close()

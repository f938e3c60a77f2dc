"""The console in a real browser (Debian's Chromium through Playwright), against
``predelinq console`` started as its own process on a free port over the seeded database.
Screenshots go to test-artifacts/console/ (kept as artefacts, not committed)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_sync

from tests.console.conftest import FIRST, KEY, SECOND, Seeded

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def console_url(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": seeded.url, "API_KEY": KEY,
           "MODEL_REGISTRY_DIR": str(seeded.registry), "ENVIRONMENT": "development"}
    log = tmp_path_factory.mktemp("console") / "console.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stream_app", "console", "--port", str(port), "--days", "7"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/ready", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the console did not start: {log.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(console_url: str) -> Iterator[object]:
    """After the database and the console (their set-up runs asyncio.run, which cannot run
    inside Playwright's own loop); one browser for the module."""
    with playwright_sync.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _denied(page: object, url: str) -> None:
    """The console answers 401 and the browser shows no customer: Chromium either renders the
    401 page or, with no (or wrong) credentials to answer the challenge with, stops at
    ERR_INVALID_AUTH_CREDENTIALS."""
    failure = ""
    try:
        response = page.goto(url)  # type: ignore[attr-defined]
    except playwright_sync.Error as exc:
        failure = str(exc)
    if failure:  # nothing of the answer was rendered
        assert "ERR_INVALID_AUTH_CREDENTIALS" in failure
    else:
        assert response.status == 401
        assert FIRST not in page.content()  # type: ignore[attr-defined]


def test_without_the_key_the_console_is_denied_and_shows_no_customer(
        browser: object, console_url: str) -> None:
    for credentials in (None, {"username": "ops", "password": "not-the-key"}):
        context = browser.new_context(http_credentials=credentials)  # type: ignore[attr-defined]
        try:
            page = context.new_page()
            for path in ("/", f"/customers/{FIRST}", "/models"):
                _denied(page, console_url + path)
                answer = context.request.get(console_url + path, max_redirects=0)
                assert answer.status == 401
                assert FIRST not in answer.text()
            _shot(page, "denied")
        finally:
            context.close()


@pytest.fixture(scope="module")
def signed_in(browser: object, console_url: str) -> Iterator[object]:
    context = browser.new_context(  # type: ignore[attr-defined]
        http_credentials={"username": "ops", "password": KEY},
        viewport={"width": 1100, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_portfolio_shows_charts_with_the_seeded_counts(signed_in: object,
                                                        console_url: str) -> None:
    page = signed_in
    response = page.goto(console_url + "/")  # type: ignore[attr-defined]
    assert response.status == 200
    assert page.locator("#scores-total").inner_text() == "6"  # type: ignore[attr-defined]
    assert page.locator("#interventions-total").inner_text() == "1"  # type: ignore[attr-defined]
    assert page.locator("#suppressions-total").inner_text() == "2"  # type: ignore[attr-defined]
    assert page.locator("svg.chart").count() == 7  # type: ignore[attr-defined]
    assert page.locator("#chart-bands rect").count() >= 6  # type: ignore[attr-defined]
    bands = page.locator("#table-bands tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    assert sorted(re.sub(r"\s+", " ", b) for b in bands) == [
        "CRITICAL 1", "HIGH 1", "LOW 2", "MEDIUM 2"]
    suppressed = page.locator("#table-suppressions tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    assert sorted(re.sub(r"\s+", " ", s) for s in suppressed) == ["control_group 1",
                                                                 "cooldown 1"]
    assert FIRST not in page.content()  # type: ignore[attr-defined]
    _shot(page, "portfolio")


def test_search_opens_the_customer_timeline(signed_in: object, console_url: str) -> None:
    page = signed_in
    page.goto(console_url + "/")  # type: ignore[attr-defined]
    page.fill("#customer-search", FIRST)  # type: ignore[attr-defined]
    page.click("header button")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/customers/{FIRST}")  # type: ignore[attr-defined]
    assert FIRST in page.locator("h1").inner_text()  # type: ignore[attr-defined]
    scores = page.locator("#table-scores tbody tr")  # type: ignore[attr-defined]
    assert scores.count() == 3
    assert "failed_debits_30d" in scores.first.inner_text()  # newest first, with its reasons
    interventions = page.locator("#table-interventions tbody tr")  # type: ignore[attr-defined]
    assert interventions.count() == 2
    assert "suppressed: cooldown" in interventions.first.inner_text()
    assert "PAYMENT_HOLIDAY_OFFER" in interventions.last.inner_text()
    _shot(page, "customer")
    page.fill("#customer-search", SECOND)  # type: ignore[attr-defined]
    page.press("#customer-search", "Enter")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/customers/{SECOND}")  # type: ignore[attr-defined]
    assert "suppressed: control_group" in page.content()  # type: ignore[attr-defined]


def test_models_page_lists_versions_and_opens_a_report(signed_in: object,
                                                        console_url: str) -> None:
    page = signed_in
    page.goto(console_url + "/models")  # type: ignore[attr-defined]
    rows = page.locator("#table-models tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 2
    assert "challenger" in rows.first.inner_text()  # newest first
    assert "champion" in rows.last.inner_text()
    _shot(page, "models")
    page.click("text=20260301-aaaa")  # type: ignore[attr-defined]
    assert "# Model report" in page.locator("#report").inner_text()  # type: ignore[attr-defined]
    image = page.locator("figure img")  # type: ignore[attr-defined]
    assert image.count() == 1
    assert image.evaluate("img => img.naturalWidth") == 1
    _shot(page, "model-report")

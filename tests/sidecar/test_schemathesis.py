"""Schemathesis against the running API: every operation of the OpenAPI document, positive and
negative data (examples, coverage and fuzzing phases), all of its checks (status codes, response
schemas and headers, content types, ignored auth, unsupported methods, server errors).

The sidecar runs on its own event loop in a thread (schemathesis calls it synchronously over
HTTP) with a fake in-process PredictBackend and a real PostgreSQL audit trail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from stream_app.sidecar import Sidecar
from stream_app.sidecar._openapi import openapi_document

from .conftest import (
    BASE_CONFIG,
    KEY,
    PREFIX,
    FakeBackend,
    build_sidecar,
    create_audit_trail,
    fresh_database,
)

pytestmark = pytest.mark.integration


class ServerThread:
    """The sidecar on its own event loop in a daemon thread, on a free loopback port."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sidecar", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.sidecar.start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.sidecar.stop())
            self.loop.close()

    def __enter__(self) -> str:
        self._thread.start()
        if not self._started.wait(30):
            raise RuntimeError("the sidecar did not start within 30 s")
        if self._error is not None:
            raise self._error
        return f"http://127.0.0.1:{self.sidecar.port}"

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


@pytest.fixture(scope="module")
def live_api(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        asyncio.run(create_audit_trail(url, latest_migrations=True))
        # no rate limit to speak of: schemathesis sends thousands of requests
        config = replace(BASE_CONFIG, database_url=url, rate_limit_max=1_000_000)
        sidecar, _ = build_sidecar(config, FakeBackend(), clock=time.monotonic)
        with ServerThread(sidecar) as base_url:
            yield base_url


# The schema is the document the API serves (checked below). It is loaded at collection time,
# before the server runs: schemathesis' lazy loader (`schemathesis.pytest.from_fixture`) does not
# work with pytest 9.2 (it sets `Function._nodeid`, which pytest 9.2 no longer has).
# The key is given as the document's security scheme (not as a plain header) so that
# schemathesis knows it: its negative cases drop or spoil it, its ignored_auth check probes
# without it.
schema = schemathesis.openapi.from_dict(
    openapi_document(PREFIX),
    config=schemathesis.Config.from_dict({"auth": {"openapi": {"ApiKeyAuth": {"api_key": KEY}}}}))


def test_the_served_document_is_the_one_tested(live_api: str) -> None:
    served = requests.get(f"{live_api}{PREFIX}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == openapi_document(PREFIX)


@schema.parametrize()
# no deadline: a request's time includes PostgreSQL; health checks would only flag slow data
# generation for the large customer ids
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, live_api: str) -> None:
    case.call_and_validate(base_url=live_api, timeout=10)


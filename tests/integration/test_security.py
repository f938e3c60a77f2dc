"""Security, end to end: a worker and the audit sink in ENVIRONMENT=production on real Apache
Kafka and PostgreSQL, fed a simulated bank's events with interventions on.

* no API call but the public ones passes without the right key, and the rate limit holds;
* everything the two processes logged (at INFO, the production level) holds no customer id,
  account id or counterparty of the traffic;
* the API key and the database password appear neither in the logs nor in ``/metrics``, and
  no metric label holds a customer id.

SASL (PLAIN, SCRAM) against a SASL-only broker is in ``test_broker_trouble.py``; the
container's non-root user in ``tests/deploy``.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.databases import fetch, fresh_database
from tests.support.kafka_io import encode_inputs, produce
from tests.support.models import TrainedFixture
from tests.support.replay import simulated
from tests.support.sink_process import SinkProcess
from tests.support.worker_process import WorkerProcess, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_KEY = "prod-api-key-7c1f9e2b5a"
OUTPUT_ID_KEY = "output-id-key-of-the-security-test-3f9a1c"
DB_PASSWORD = "db-Pass-93ad71"  # the test server trusts loopback, so any password connects
RATE_LIMIT = 12


def _with_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"predelinq:{DB_PASSWORD}@{host}"))


def _call(port: int, method: str, path: str, *, key: str | None = None,
          body: bytes | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body)
    if key is not None:
        request.add_header("X-API-Key", key)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def _personal_data(records: list[dict[str, Any]]) -> set[str]:
    values: set[str] = set()
    for record in records:
        for field in ("customer_id", "account_id", "counterparty"):
            if record.get(field):
                values.add(str(record[field]))
    return values


@pytest.fixture(scope="module")
def production_run(kafka_broker: Any, trained: TrainedFixture, postgres_url: str,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("security")
    topics = unique_topics("security")
    records = simulated(customers=60, days=60, seed=29)
    with fresh_database(postgres_url) as plain_url:
        database_url = _with_password(plain_url)
        env = {**topics, "ENVIRONMENT": "production", "API_KEY": API_KEY,
               # the test broker and the throwaway PostgreSQL have no TLS: allowed explicitly
               "OUTPUT_ID_KEY": OUTPUT_ID_KEY, "ALLOW_PLAINTEXT_KAFKA": "true",
               "ALLOW_INSECURE_DATABASE": "true",
               "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS":
               kafka_broker.bootstrap_servers, "MODEL_PATH": str(trained.path),
               "TOPIC_PARTITIONS": "2", "STATE_STORE_URL": "rocksdb://",
               "ENABLE_INTERVENTIONS": "true", "AUTO_TRIGGER_THRESHOLD": "1",
               "RATE_LIMIT_MAX_REQUESTS": str(RATE_LIMIT), "RATE_LIMIT_WINDOW": "60",
               "CORS_ORIGINS": "https://crm.bank.example", "LOG_LEVEL": "INFO",
               "METRICS_PUBLIC_INFO": "false"}
        with WorkerProcess(env, tmp / "worker") as worker, \
                SinkProcess(env, tmp / "sink") as sink:
            worker.wait_ready(timeout=90)
            sink.wait_ready(timeout=60)
            sent = asyncio.run(produce(kafka_broker.bootstrap_servers,
                                       encode_inputs(records, topics)))
            sink.wait_for("the audit trail to hold every event's risk score",
                          lambda: asyncio.run(fetch(
                              plain_url, "SELECT count(DISTINCT trigger_event_id) AS n "
                              "FROM risk_scores WHERE trigger_topic <> 'timer'"))[0]["n"] >= sent,
                          timeout=120)
            interventions = asyncio.run(fetch(plain_url,
                                              "SELECT count(*) AS n FROM interventions"))[0]["n"]
            customer = records[0]["customer_id"]
            port = worker.port
            public = {path: _call(port, "GET", path)[0]
                      for path in ("/health", "/ready", "/api/v1/health",
                                   "/api/v1/openapi.json")}
            metrics_status = {"worker": _call(port, "GET", "/metrics")[0],
                              "sink": _call(sink.port, "GET", "/metrics")[0]}
            document = json.loads(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10).read())
            calls = []
            for path, operations in document["paths"].items():
                if path in public:  # documented as public: health and the document itself
                    continue
                concrete = path.replace("{customer_id}", customer)
                for method in operations:
                    body = (json.dumps({"customer_id": customer}).encode()
                            if method == "post" else None)
                    calls.append((method.upper(), path, concrete, body))
            without = {(m, p): _call(port, m, c, body=b)[0] for m, p, c, b in calls}
            wrong = {(m, p): _call(port, m, c, key="wrong-key-000000000", body=b)[0]
                     for m, p, c, b in calls}
            risk = f"/api/v1/customers/{customer}/risk"
            with_key = [_call(port, "GET", risk, key=API_KEY) for _ in range(RATE_LIMIT + 3)]
            metrics_text = {
                name: urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{p}/metrics", headers={"X-API-Key": API_KEY}),
                    timeout=10).read().decode()
                for name, p in (("worker", port), ("sink", sink.port))}
            assert worker.stop() == 0
            assert sink.stop() == 0
        logs = {"worker": worker.log_path.read_text(), "sink": sink.log_path.read_text()}
    return {"records": records, "public": public, "calls": calls, "without": without,
            "wrong": wrong, "with_key": with_key, "metrics": metrics_text, "logs": logs,
            "interventions": interventions, "database_url": database_url,
            "metrics_status": metrics_status}


def test_the_run_went_end_to_end(production_run: dict[str, Any]) -> None:
    assert production_run["interventions"] > 0  # decisions were made and audited
    assert len(production_run["calls"]) >= 3  # predict, risk, interventions


def test_public_routes_answer_without_a_key(production_run: dict[str, Any]) -> None:
    assert production_run["public"] == {"/health": 200, "/ready": 200,
                                        "/api/v1/health": 200, "/api/v1/openapi.json": 200}


def test_metrics_need_the_key_without_metrics_public_info(
        production_run: dict[str, Any]) -> None:
    assert production_run["metrics_status"] == {"worker": 401, "sink": 401}
    assert "predelinq_" in production_run["metrics"]["worker"]


def test_no_protected_call_passes_without_the_right_key(production_run: dict[str, Any]) -> None:
    assert set(production_run["without"].values()) == {401}, production_run["without"]
    # wrong keys share one per-address budget, so some answers are 429: never a 2xx
    assert set(production_run["wrong"].values()) <= {401, 429}, production_run["wrong"]


def test_the_rate_limit_holds(production_run: dict[str, Any]) -> None:
    statuses = [status for status, _ in production_run["with_key"]]
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT
    assert statuses[RATE_LIMIT:] == [429] * 3
    assert all(int(headers["Retry-After"]) >= 1
               for status, headers in production_run["with_key"] if status == 429)


def test_logs_hold_no_personal_data(production_run: dict[str, Any]) -> None:
    personal = _personal_data(production_run["records"])
    assert any(v.startswith("CUST-") for v in personal)
    for name, text in production_run["logs"].items():
        assert text.strip(), f"the {name} logged nothing"
        found = sorted(v for v in personal if v in text)
        assert not found, f"personal data in the {name} log: {found[:5]}"
        assert not re.search(r"CUST-\d+", text), name


def test_secrets_never_appear_in_logs_or_metrics(production_run: dict[str, Any]) -> None:
    texts = {**{f"{k} log": v for k, v in production_run["logs"].items()},
             **{f"{k} /metrics": v for k, v in production_run["metrics"].items()}}
    for name, text in texts.items():
        assert API_KEY not in text, name
        assert DB_PASSWORD not in text, name
        assert production_run["database_url"] not in text, name


def test_no_metric_label_holds_a_customer_id(production_run: dict[str, Any]) -> None:
    personal = _personal_data(production_run["records"])
    for name, text in production_run["metrics"].items():
        assert "predelinq_" in text, name
        labels = " ".join(re.findall(r"\{([^}]*)\}", text))
        assert not [v for v in personal if v in labels], name

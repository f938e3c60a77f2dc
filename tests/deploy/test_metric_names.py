"""Every metric named by the alert rules and the Grafana dashboard is one the app exports, read
from live /metrics: a real worker (against the test Kafka broker) and a real audit sink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.models import TrainedFixture
from tests.support.worker_process import WorkerProcess, unique_topics

from ._promql import exposed_names, metric_names
from .conftest import LiveSidecar

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _rule_expressions() -> dict[str, str]:
    result = {}
    for path in (DEPLOY / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                result[f"alert {rule['alert']}"] = rule["expr"]
    return result


def _dashboard_expressions() -> dict[str, str]:
    result = {}
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                result[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    return result


def _unknown(expressions: dict[str, str], exported: set[str]) -> dict[str, set[str]]:
    return {where: missing for where, expr in expressions.items()
            if (missing := metric_names(expr) - exported - {"up"})}


def test_metric_names_are_found_in_promql() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, route) (rate('
            'predelinq_api_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval])))'
            ' / on (instance) group_left sum(predelinq_ready offset 5m) > bool 0.2 and up')
    assert metric_names(expr) == {"predelinq_api_request_duration_seconds_bucket",
                                  "predelinq_ready", "up"}


def test_exposed_names_include_families_without_samples() -> None:
    text = ("# HELP a_total x\n# TYPE a_total counter\n"
            "# HELP h_seconds x\n# TYPE h_seconds histogram\n"
            "g 1.0\n# TYPE g gauge\n")
    assert exposed_names(text) == {"a_total", "h_seconds_bucket", "h_seconds_sum",
                                   "h_seconds_count", "g"}


def test_a_name_the_app_does_not_export_is_reported() -> None:
    exported = {"predelinq_ready"}
    assert _unknown({"x": "predelinq_consumer_lag_records > 0 and predelinq_ready == 1"},
                    exported) == {"x": {"predelinq_consumer_lag_records"}}


def test_the_sink_metrics_follow_the_conventions(live_sink: LiveSidecar) -> None:
    status, text = live_sink.get("/metrics")
    assert status == 200
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    ours = [f for f in families if not f.startswith(("python_", "process_"))]
    assert ours
    assert all(f.startswith("predelinq_sink_") for f in ours), ours


@pytest.mark.integration
@pytest.mark.slow
def test_rules_and_dashboard_use_only_exported_metrics(
        kafka_broker: object, trained: TrainedFixture, tmp_path: Path,
        live_sink: LiveSidecar) -> None:
    env = {**unique_topics("deploy"),
           "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,  # type: ignore[attr-defined]
           "MODEL_PATH": str(trained.path), "TOPIC_PARTITIONS": "2"}
    with WorkerProcess(env, tmp_path) as worker:
        worker.wait_ready()
        status, body = worker.get("/metrics")
    assert status == 200
    _, sink_text = live_sink.get("/metrics")
    worker_names = exposed_names(body.decode())
    sink_names = exposed_names(sink_text)
    assert "predelinq_dead_letters_total" in worker_names  # a labelled family with no samples
    assert "predelinq_sink_rows_total" in sink_names
    exported = worker_names | sink_names
    rules, dashboard = _rule_expressions(), _dashboard_expressions()
    assert len(rules) >= 10
    assert len(dashboard) >= 20
    assert _unknown(rules, exported) == {}
    assert _unknown(dashboard, exported) == {}
    used = set().union(*(metric_names(e) for e in (*rules.values(), *dashboard.values())))
    assert len(used) >= 25  # the check looked at real names, not an empty parse

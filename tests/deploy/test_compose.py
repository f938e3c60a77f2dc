"""docker-compose.kafka.yml cannot run here (no Docker engine): check it by parsing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_app.settings import Settings

PREDELINQ_SERVICES = {"migrate", "model-init", "retrain", "worker-1", "worker-2", "sink",
                      "console"}


@pytest.fixture
def compose(repo_root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo_root / "docker-compose.kafka.yml").read_text())
    return loaded


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items()
            if str(service.get("image", "")).startswith("predelinq:")}


def test_the_stack_has_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(_ours(compose)) == PREDELINQ_SERVICES
    assert {"kafka", "postgres", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert "zookeeper" not in " ".join(services)
    assert services["migrate"]["command"] == ["migrate"]
    assert [services[w]["command"] for w in ("worker-1", "worker-2")] == [["worker"]] * 2
    assert services["sink"]["command"] == ["sink"]


def test_compose_environment_names_exist_in_settings(compose: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    checked = 0
    for name, service in _ours(compose).items():
        for variable in service.get("environment", {}):
            assert variable in known, f"{name}: {variable} is not a predelinq setting"
            checked += 1
    assert checked >= 40


def test_compose_services_run_in_production_mode_with_required_secrets(
        compose: dict[str, Any], repo_root: Path) -> None:
    for name in ("migrate", "worker-1", "worker-2", "sink", "console"):
        env = _ours(compose)[name]["environment"]
        assert env["ENVIRONMENT"] == "production", name
        assert env["STATE_STORE_URL"].startswith("rocksdb://"), name
        assert "${API_KEY" in env["API_KEY"], name
        assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"], name
        assert env["LOG_FORMAT"] == "json", name
    assert ".env" in (repo_root / ".gitignore").read_text().split()


def test_the_two_workers_have_their_own_state_and_address(compose: dict[str, Any]) -> None:
    services = compose["services"]
    states, urls, host_ports = set(), set(), set()
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        env = worker["environment"]
        assert env["SIDECAR_ADVERTISED_URL"] == f"http://{name}:{env['SIDECAR_PORT']}"
        urls.add(env["SIDECAR_ADVERTISED_URL"])
        mounts = {v.split(":")[0]: v.split(":")[1] for v in worker["volumes"]}
        states.add(next(source for source, target in mounts.items()
                        if target == "/var/lib/predelinq/state"))
        registry = next(s for s, t in mounts.items() if t.startswith("/var/lib/predelinq/registry"))
        assert registry == "registry"
        assert env["MODEL_PATH"].startswith("/var/lib/predelinq/registry/")
        host_ports.update(p.split(":")[0] for p in worker["ports"])
        assert {"kafka", "migrate", "model-init"} <= set(worker["depends_on"])
    assert len(states) == 2
    assert len(urls) == 2
    assert len(host_ports) == 2


def test_every_secret_is_substituted_from_env_example(repo_root: Path) -> None:
    text = (repo_root / "docker-compose.kafka.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (repo_root / ".env.example").read_text()
    defined = dict(line.split("=", 1) for line in example.splitlines()
                   if line and not line.startswith("#"))
    assert used == set(defined)
    assert {"API_KEY", "POSTGRES_PASSWORD"} <= used
    tracked = subprocess.run(["git", "ls-files", ".env"], cwd=repo_root, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == ""


def test_references_between_services_volumes_and_files_resolve(
        compose: dict[str, Any], repo_root: Path) -> None:
    services = compose["services"]
    volumes = set(compose["volumes"])
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (repo_root / source).exists(), f"{name}: {source} missing"
            else:
                assert source in volumes, f"{name}: volume {source} not declared"


def test_prometheus_scrapes_every_worker_and_the_sink_on_their_ports(
        compose: dict[str, Any], repo_root: Path) -> None:
    config = yaml.safe_load((repo_root / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
            for job in config["scrape_configs"]}
    ours = _ours(compose)
    expected = {f"{name}:{ours[name]['environment']['SIDECAR_PORT']}"
                for name in ("worker-1", "worker-2")}
    assert set(jobs["predelinq-worker"]) == expected
    assert jobs["predelinq-sink"] == [f"sink:{ours['sink']['environment']['SIDECAR_PORT']}"]
    mounts = dict(m.split(":")[:2] for m in compose["services"]["prometheus"]["volumes"])
    assert mounts["./deploy/prometheus/rules"] == "/etc/prometheus/rules"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_grafana_is_provisioned_with_the_datasource_the_dashboard_uses(
        compose: dict[str, Any], repo_root: Path) -> None:
    import json

    grafana = compose["services"]["grafana"]
    mounts = dict(m.split(":")[:2] for m in grafana["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load(
        (repo_root / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(
        (repo_root / "deploy/grafana/provisioning/dashboards/predelinq.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/dashboards"] == path
    dashboard = json.loads((repo_root / "deploy/grafana/dashboards/predelinq.json").read_text())
    uids = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    assert uids == {source["uid"]}


def _substituted(environment: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """The service's environment as Compose renders it with ``values`` for ${NAME:?...}."""
    def one(raw: object) -> str:
        return re.sub(r"\$\{([A-Z_]+)(:\?[^}]*)?\}", lambda m: values[m.group(1)], str(raw))

    return {name: one(value) for name, value in environment.items()}


def test_compose_environments_load_once_env_example_is_replaced(
        compose: dict[str, Any], repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every production service of the stack passes the production rules with real secrets
    in .env, and refuses to start while .env still holds .env.example's placeholders (naming
    each variable, never the value)."""
    from stream_app.settings import ConfigurationError, load_settings

    example = dict(line.split("=", 1) for line in (repo_root / ".env.example").read_text()
                   .splitlines() if line and not line.startswith("#"))
    real = {name: f"real-{name.lower()}-0123456789abcdefghijklmnopq" for name in example}
    for name in ("migrate", "worker-1", "worker-2", "sink", "console"):
        for variable in Settings.model_fields:
            monkeypatch.delenv(variable.upper(), raising=False)
        environment = _ours(compose)[name]["environment"]
        for variable, value in _substituted(environment, example).items():
            monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigurationError) as refused:
            load_settings()
        substituted = {variable for variable, raw in environment.items() if "${" in str(raw)}
        assert {"API_KEY", "DATABASE_URL", "OUTPUT_ID_KEY"} <= substituted
        named = {p.split(" ", 1)[0] for p in refused.value.problems if "placeholder" in p}
        assert named == substituted, refused.value.problems
        assert {p.split(" ", 1)[0] for p in refused.value.problems} == substituted
        for placeholder in example.values():
            assert placeholder not in str(refused.value)
        for variable, value in _substituted(environment, real).items():
            monkeypatch.setenv(variable, value)
        settings = load_settings()
        assert settings.allow_plaintext_kafka is True  # the local stack's explicit choice
        assert settings.allow_insecure_database is True


def test_retrain_is_a_one_shot_service_on_the_shared_registry(compose: dict[str, Any]) -> None:
    """`docker compose run --rm retrain`: not started by `up` (a profile), writes the registry
    the workers read, reads the archive volume, and passes the parser of `predelinq retrain`."""
    from stream_app.cli.main import build_parser

    services = compose["services"]
    retrain = services["retrain"]
    assert retrain["profiles"] == ["retrain"]
    assert retrain["restart"] == "no"
    assert "depends_on" not in retrain
    args = build_parser().parse_args(retrain["command"])
    assert args.command == "retrain"
    registry = retrain["environment"]["MODEL_REGISTRY_DIR"]
    assert f"registry:{registry}" in retrain["volumes"]  # read-write, unlike the workers
    for worker in ("worker-1", "worker-2"):
        assert f"registry:{registry}:ro" in services[worker]["volumes"]
    (archive,) = [m for m in retrain["volumes"] if m.endswith(":ro")]
    assert archive.split(":")[1] == args.events
    for name, service in services.items():  # the one-shot jobs are the only ones in profiles
        assert ("profiles" in service) == (name == "retrain"), name


def test_the_console_serves_the_audit_trail_on_loopback(compose: dict[str, Any]) -> None:
    """`predelinq console` as the CLI parses the service's command, on all interfaces inside
    the container and at the port it listens on, published on the host's loopback only; after
    the migrations (like the sink), with the shared registry read-only for its /models pages."""
    from stream_app.cli.main import build_parser

    services = compose["services"]
    console = services["console"]
    args = build_parser().parse_args(console["command"])
    assert args.command == "console"
    assert args.host == "0.0.0.0"
    assert args.port == build_parser().parse_args(["console"]).port  # the CLI's default
    (published,) = console["ports"]
    host_ip, host_port, container_port = str(published).split(":")
    assert host_ip == "127.0.0.1"
    assert int(container_port) == args.port
    taken = {str(p).split(":")[-2] for name, s in services.items() if name != "console"
             for p in s.get("ports", [])}
    assert host_port not in taken
    depends = console["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["migrate"] == services["sink"]["depends_on"]["migrate"]
    assert "kafka" not in depends  # it reads PostgreSQL only
    registry = console["environment"]["MODEL_REGISTRY_DIR"]
    assert f"registry:{registry}:ro" in console["volumes"]
    assert console["restart"] == services["sink"]["restart"]

"""deploy/k8s: parsed (no cluster here) and checked against the settings and the sidecar."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_app.settings import Settings, load_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
EXAMPLE_SECRET = K8S / "examples" / "secret.example.yml"
Manifest = dict[str, Any]
DIGEST = re.compile(r"^[a-z0-9./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    loaded: list[Manifest] = []
    for name in kustomization["resources"]:
        loaded.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return loaded


@pytest.fixture(scope="module")
def example_secret() -> dict[str, str]:
    (secret,) = [d for d in yaml.safe_load_all(EXAMPLE_SECRET.read_text()) if d]
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "predelinq-secrets"
    data: dict[str, str] = secret["stringData"]
    return data


def _one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def _containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = manifest["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = spec["containers"]
    return containers


def _workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in {"StatefulSet", "Deployment", "Job"}]


def test_every_file_is_listed_and_every_manifest_is_well_formed(
        manifests: list[Manifest]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    files = {p.name for p in K8S.glob("*.yml")} - {"kustomization.yml"}
    assert set(kustomization["resources"]) == files
    for manifest in manifests:
        assert {"apiVersion", "kind", "metadata"} <= set(manifest), manifest
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == kustomization["namespace"]


def test_the_worker_is_a_statefulset_with_probes_resources_and_state_volumes(
        manifests: list[Manifest]) -> None:
    worker = _one(manifests, "StatefulSet", "predelinq-worker")
    (container,) = _containers(worker)
    assert container["args"] == ["worker"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    (template,) = worker["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    assert mounts[template["metadata"]["name"]]["mountPath"] == config["STATE_DIR"]
    assert config["STATE_STORE_URL"].startswith("rocksdb://")
    assert mounts["registry"]["readOnly"] is True
    assert config["MODEL_PATH"].startswith(mounts["registry"]["mountPath"] + "/")
    # the headless service gives each pod the DNS name its advertised URL uses
    service = _one(manifests, "Service", worker["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    env = {e["name"]: e for e in container.get("env", [])}
    assert f".{service['metadata']['name']}:" in env["SIDECAR_ADVERTISED_URL"]["value"]
    assert worker["spec"]["replicas"] <= int(config["TOPIC_PARTITIONS"])


def test_probes_use_the_port_the_sidecar_listens_on(manifests: list[Manifest]) -> None:
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    for workload in (_one(manifests, "StatefulSet", "predelinq-worker"),
                     _one(manifests, "Deployment", "predelinq-sink")):
        (container,) = _containers(workload)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            assert ports[container[probe]["httpGet"]["port"]] == int(config["SIDECAR_PORT"])
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == config["SIDECAR_PORT"]


def test_disruption_budgets_select_their_pods(manifests: list[Manifest]) -> None:
    for kind, name in (("StatefulSet", "predelinq-worker"), ("Deployment", "predelinq-sink"),
                       ("Deployment", "predelinq-console")):
        workload = _one(manifests, kind, name)
        budget = _one(manifests, "PodDisruptionBudget", name)
        assert budget["spec"]["maxUnavailable"] == 1
        selector = budget["spec"]["selector"]["matchLabels"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()


def test_the_sink_is_a_deployment(manifests: list[Manifest]) -> None:
    sink = _one(manifests, "Deployment", "predelinq-sink")
    (container,) = _containers(sink)
    assert container["args"] == ["sink"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {"requests", "limits"} <= set(container["resources"])


def test_pods_run_as_the_images_non_root_user(manifests: list[Manifest]) -> None:
    dockerfile = (K8S.parent / "Dockerfile").read_text()
    uid = int(re.findall(r"^USER (\d+)", dockerfile, flags=re.MULTILINE)[-1])
    for workload in _workloads(manifests):
        security = workload["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == uid
        for container in _containers(workload):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_config_and_secret_names_are_settings(manifests: list[Manifest],
                                             example_secret: dict[str, str]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    secret = example_secret
    assert set(config) <= known, set(config) - known
    assert set(secret) <= known, set(secret) - known
    assert not set(config) & set(secret)
    assert {"API_KEY", "DATABASE_URL", "KAFKA_SASL_PASSWORD", "OUTPUT_ID_KEY"} <= set(secret)
    for workload in _workloads(manifests):
        for container in _containers(workload):
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources == {"predelinq-config", "predelinq-secrets"}
            env = container.get("env", [])
            values = " ".join(str(e.get("value", "")) for e in env)
            for item in env:  # settings, or helpers other values substitute: $(POD_NAME)
                assert item["name"] in known or f"$({item['name']})" in values, item["name"]


def test_the_config_loads_and_the_placeholder_secret_is_refused(
        manifests: list[Manifest], example_secret: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap with the example Secret's keys is a valid production configuration
    (SASL_SSL Kafka, a TLS DATABASE_URL); with the committed placeholders every process
    refuses to start, naming each variable to replace (so a forgotten secret never reaches
    production)."""
    from stream_app.settings import ConfigurationError

    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in {**config, **example_secret}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    placeholders = {name for name, value in example_secret.items() if "CHANGE-ME" in value}
    assert {"API_KEY", "DATABASE_URL", "KAFKA_SASL_PASSWORD", "OUTPUT_ID_KEY"} <= placeholders
    assert {p.split(" ", 1)[0] for p in refused.value.problems} == placeholders
    assert {p.split(" ", 1)[0] for p in refused.value.problems if "placeholder" in p} == (
        placeholders)
    for name in placeholders:  # what an operator renders from the secret store
        monkeypatch.setenv(name, example_secret[name].replace(
            "CHANGE-ME", f"real-{name.lower()}-0123456789abcdefghijklmnopq"))
    settings = load_settings()
    assert settings.topic_replication_factor == 3
    assert settings.kafka_security_protocol.value == "SASL_SSL"
    assert settings.allow_plaintext_kafka is False
    assert settings.allow_insecure_database is False


# --- hardening (security review, issue 20, L5) -----------------------------------------------


def test_the_kustomization_applies_no_secret(manifests: list[Manifest],
                                             example_secret: dict[str, str]) -> None:
    """`kubectl apply -k` must never overwrite the real Secret with the example's
    placeholders: the Secret is only an example, outside the kustomization."""
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"] == []
    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    for key in ("secretGenerator", "generators", "components"):
        assert key not in kustomization
    assert not any("secret" in name.lower() for name in kustomization["resources"])
    for name, value in example_secret.items():  # every secret value is a refused placeholder
        if name != "KAFKA_SASL_USERNAME":
            assert "CHANGE-ME" in value, name


def _pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    return [(m["metadata"]["name"], m["spec"]["template"]["spec"]) for m in _workloads(manifests)]


def test_every_image_is_pinned_by_digest(manifests: list[Manifest]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    images = {entry["name"]: entry for entry in kustomization["images"]}
    seen = set()
    for name, spec in _pod_specs(manifests):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            image = container["image"]
            assert DIGEST.match(image), f"{name}/{container['name']}: {image} not by digest"
            seen.add(image.split("@")[0])
    assert seen == {"predelinq"}
    for entry in images.values():  # what kustomize sets: a digest, never a tag
        assert "newTag" not in entry
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
    assert set(images) == seen


def test_pods_use_runtime_default_seccomp_and_no_service_account_token(
        manifests: list[Manifest]) -> None:
    specs = _pod_specs(manifests)
    assert {name for name, _ in specs} == {"predelinq-worker", "predelinq-sink",
                                           "predelinq-console", "predelinq-migrate"}
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:  # no container loosens it again
            profile = container["securityContext"].get("seccompProfile")
            assert profile in (None, {"type": "RuntimeDefault"}), name
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name


def _policies_for(manifests: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == "NetworkPolicy"
            and m["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()]


def _ports(rules: list[dict[str, Any]]) -> set[tuple[str, int]]:
    found = set()
    for rule in rules:
        assert rule.get("ports"), f"a rule without ports allows every port: {rule}"
        found.update((p.get("protocol", "TCP"), p["port"]) for p in rule["ports"])
    return found


def _egress_ports(config: dict[str, str], secret: dict[str, str]) -> dict[str, int]:
    """The ports the settings reach: every Kafka bootstrap server, PostgreSQL, the registry."""
    from urllib.parse import urlsplit

    (kafka,) = {int(server.rsplit(":", 1)[1])
                for server in config["KAFKA_BOOTSTRAP_SERVERS"].split(",")}
    postgres = urlsplit(secret["DATABASE_URL"]).port or 5432
    registry = urlsplit(config.get("SCHEMA_REGISTRY_URL", "https://registry:8081")).port
    assert registry is not None
    return {"kafka": kafka, "postgresql": postgres, "schema-registry": registry}


_MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
_DNS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}


def test_network_policies_admit_only_the_sidecar_port_from_known_peers(
        manifests: list[Manifest]) -> None:
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    sidecar = int(config["SIDECAR_PORT"])
    worker_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "predelinq",
                                                   "app.kubernetes.io/component": "worker"}}}
    api_clients = {"namespaceSelector": {"matchLabels": {"predelinq.io/api-client": "true"}}}
    console_clients = {"namespaceSelector": {"matchLabels": {
        "predelinq.io/console-client": "true"}}}
    expected_peers = {"predelinq-worker": [_MONITORING, worker_pods, api_clients],
                      "predelinq-sink": [_MONITORING], "predelinq-migrate": [],
                      "predelinq-console": [console_clients]}
    expected_port = dict.fromkeys(expected_peers, sidecar)
    expected_port["predelinq-console"] = _console_port()
    for workload in _workloads(manifests):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        policies = _policies_for(manifests, labels)
        name = workload["metadata"]["name"]
        assert policies, f"{name}: no NetworkPolicy selects its pods"
        for policy in policies:
            assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        peers = [peer for rule in ingress for peer in rule.get("from", [])]
        assert peers == expected_peers[name], name
        assert all(rule.get("from") for rule in ingress), f"{name}: ingress from anywhere"
        if ingress:
            assert _ports(ingress) == {("TCP", expected_port[name])}, name


def test_network_policies_let_pods_reach_only_kafka_postgres_registry_and_dns(
        manifests: list[Manifest], example_secret: dict[str, str]) -> None:
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    ports = _egress_ports(config, example_secret)
    sidecar = int(config["SIDECAR_PORT"])
    needs = {"predelinq-worker": ["kafka", "postgresql", "schema-registry"],
             "predelinq-sink": ["kafka", "postgresql", "schema-registry"],
             "predelinq-migrate": ["postgresql"],
             "predelinq-console": ["postgresql"]}
    for workload in _workloads(manifests):
        name = workload["metadata"]["name"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        egress = [rule for p in _policies_for(manifests, labels)
                  for rule in p["spec"].get("egress", [])]
        allowed: dict[str, set[tuple[str, int]]] = {}
        for rule in egress:
            assert rule.get("to"), f"{name}: egress to anywhere"
            for peer in rule["to"]:
                assert "ipBlock" not in peer, f"{name}: {peer}"
                if peer == _DNS:
                    key = "dns"
                else:
                    selected = peer["podSelector"]["matchLabels"]
                    assert "namespaceSelector" not in peer, f"{name}: {peer}"
                    key = selected.get("app.kubernetes.io/component", "") if (
                        selected.get("app.kubernetes.io/name") == "predelinq") else (
                        selected["app.kubernetes.io/name"])
                allowed.setdefault(key, set()).update(_ports([rule]))
        expected = {service: {("TCP", ports[service])} for service in needs[name]}
        expected["dns"] = {("UDP", 53), ("TCP", 53)}
        if name == "predelinq-worker":  # forwarded /predict calls to the partition's owner
            expected["worker"] = {("TCP", sidecar)}
        assert allowed == expected, name


def _console_port() -> int:
    """The port `predelinq console` listens on when the manifests do not pass --port: the
    CLI's default (the console has no port setting in stream_app/settings.py)."""
    from stream_app.cli.main import build_parser

    port: int = build_parser().parse_args(["console"]).port
    return port


def test_the_console_runs_predelinq_console_on_its_default_port(
        manifests: list[Manifest]) -> None:
    """`predelinq console` as the CLI parses the manifest's args: all interfaces (the CLI's
    default is loopback, which no probe or Service reaches), the container port is the one
    the console listens on, and the Service and the PodDisruptionBudget select its pods."""
    from stream_app.cli.main import build_parser

    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    assert "console.yml" in kustomization["resources"]
    console = _one(manifests, "Deployment", "predelinq-console")
    (container,) = _containers(console)
    args = build_parser().parse_args(container["args"])
    assert args.command == "console"
    assert args.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(ports.values()) == {args.port} == {_console_port()}
    for probe in ("livenessProbe", "readinessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == args.port, probe
    labels = console["spec"]["template"]["metadata"]["labels"]
    assert console["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _one(manifests, "Service", "predelinq-console")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert console["spec"]["replicas"] >= 2  # the PodDisruptionBudget keeps one up
    # the /models pages read MODEL_REGISTRY_DIR: the shared registry, read-only
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    registry = mounts[config["MODEL_REGISTRY_DIR"]]
    assert registry["readOnly"] is True
    volumes = {v["name"]: v for v in console["spec"]["template"]["spec"]["volumes"]}
    claim = volumes[registry["name"]]["persistentVolumeClaim"]
    assert claim == {"claimName": "predelinq-registry", "readOnly": True}
    # it serves no /metrics: nothing to scrape
    assert "prometheus.io/scrape" not in console["spec"]["template"]["metadata"].get(
        "annotations", {})


def test_the_console_probes_are_its_unauthenticated_routes(manifests: list[Manifest]) -> None:
    """The probe paths are GET routes of the console's app, answered without credentials
    (kubelet sends none): liveness 200 always, readiness 200 with the database up and 503
    with it down, while a page of the console answers 401 without a key."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from stream_app.console import ConsoleConfig, build_app
    from stream_app.console._app import REQUIRED_MIGRATION

    (container,) = _containers(_one(manifests, "Deployment", "predelinq-console"))
    liveness = container["livenessProbe"]["httpGet"]["path"]
    readiness = container["readinessProbe"]["httpGet"]["path"]

    class Pool:
        def __init__(self, up: bool) -> None:
            self.up = up

        async def fetchval(self, query: str) -> object:
            if not self.up:
                raise OSError("database down")
            if "to_regclass" in query:  # the readiness check's migration level
                return "schema_migrations"
            return REQUIRED_MIGRATION if "schema_migrations" in query else 1

        async def close(self) -> None:
            return None

    async def statuses(up: bool) -> dict[str, int]:
        async def factory(dsn: str) -> Any:
            return Pool(up)

        config = ConsoleConfig.with_key("postgresql://nobody@127.0.0.1:1/none", K8S,
                                        "a-console-key-0123456789abcdef")
        app = build_app(config, pool_factory=factory)
        routes = {r.resource.canonical for r in app.router.routes()
                  if r.method == "GET" and r.resource is not None}
        assert {liveness, readiness} <= routes, routes
        async with TestClient(TestServer(app)) as client:
            found = {}
            for path in (liveness, readiness, "/"):
                async with client.get(path) as reply:
                    found[path] = reply.status
            return found

    up = asyncio.run(statuses(up=True))
    assert up == {liveness: 200, readiness: 200, "/": 401}, up
    down = asyncio.run(statuses(up=False))
    assert down[liveness] == 200, down
    assert down[readiness] == 503, down


def test_the_retrain_cronjob_runs_on_retrain_schedule(manifests: list[Manifest],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The CronJob's schedule is RETRAIN_SCHEDULE of the ConfigMap and the setting's default,
    it runs `predelinq retrain` with the registry volume writable and the archive read-only,
    one job at a time, as hardened as the other pods and with no network."""
    from stream_app.cli.main import build_parser

    kustomization = yaml.safe_load((K8S / "kustomization.yml").read_text())
    assert "retrain-cronjob.yml" in kustomization["resources"]
    cronjob = _one(manifests, "CronJob", "predelinq-retrain")
    config = _one(manifests, "ConfigMap", "predelinq-config")["data"]
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    default = Settings.model_fields["retrain_schedule"].default
    assert cronjob["spec"]["schedule"] == config["RETRAIN_SCHEDULE"] == default
    assert load_settings(retrain_schedule=config["RETRAIN_SCHEDULE"]).retrain_schedule == (
        cronjob["spec"]["schedule"])
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    assert DIGEST.match(container["image"])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"predelinq-config", "predelinq-secrets"}
    args = build_parser().parse_args(container["args"])
    assert args.command == "retrain"
    assert args.registry is None  # MODEL_REGISTRY_DIR of the ConfigMap
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    registry = mounts[config["MODEL_REGISTRY_DIR"]]
    assert not registry.get("readOnly", False)
    claim = volumes[registry["name"]]["persistentVolumeClaim"]
    assert claim["claimName"] == "predelinq-registry"
    assert not claim.get("readOnly", False)
    _one(manifests, "PersistentVolumeClaim", "predelinq-registry")
    archive = mounts[args.events]
    assert archive["readOnly"] is True
    archive_claim = volumes[archive["name"]]["persistentVolumeClaim"]["claimName"]
    _one(manifests, "PersistentVolumeClaim", archive_claim)
    (policy,) = _policies_for(manifests, pod["metadata"]["labels"])
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not policy["spec"].get("ingress")
    assert not policy["spec"].get("egress")

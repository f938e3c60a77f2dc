"""docker-compose.kafka.yml cannot run here (no Docker engine): check it by parsing."""

from __future__ import annotations

from pathlib import Path

import yaml

from stream_app.settings import Settings


def test_compose_environment_names_exist_in_settings(repo_root: Path) -> None:
    compose = yaml.safe_load((repo_root / "docker-compose.kafka.yml").read_text())
    known = {name.upper() for name in Settings.model_fields}
    ours = {"migrate", "worker"}
    checked = 0
    for name, service in compose["services"].items():
        if name not in ours:
            continue
        for variable in service.get("environment", {}):
            assert variable in known, f"{name}: {variable} is not a predelinq setting"
            checked += 1
    assert checked >= 5


def test_compose_worker_runs_in_production_mode_with_required_secrets(repo_root: Path) -> None:
    compose = yaml.safe_load((repo_root / "docker-compose.kafka.yml").read_text())
    env = compose["services"]["worker"]["environment"]
    assert env["ENVIRONMENT"] == "production"
    assert env["STATE_STORE_URL"].startswith("rocksdb://")
    assert "API_KEY" in env
    assert "DATABASE_URL" in env
    assert ".env" in (repo_root / ".gitignore").read_text().split()

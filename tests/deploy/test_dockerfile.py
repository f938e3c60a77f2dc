"""deploy/Dockerfile cannot be built here (no Docker engine): check it by parsing, and run its
HEALTHCHECK command against a live sidecar."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from stream_app.brokers import free_port
from stream_app.settings import Settings

from .conftest import LiveSidecar

Instruction = tuple[str, str]


def _instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n(?:\s*#[^\n]*\n)*", " ", text)
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            result.append((keyword.upper(), arguments.strip()))
    return result


@pytest.fixture(scope="module")
def stages(repo_root_path: Path) -> list[list[Instruction]]:
    instructions = _instructions((repo_root_path / "deploy" / "Dockerfile").read_text())
    result: list[list[Instruction]] = []
    for keyword, arguments in instructions:
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, arguments))
    return result


@pytest.fixture(scope="module")
def repo_root_path() -> Path:
    return Path(__file__).resolve().parents[2]


def _env(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            for item in shlex.split(arguments):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def _healthcheck_command(stage: list[Instruction]) -> list[str]:
    arguments = next(a for k, a in stage if k == "HEALTHCHECK")
    command: list[str] = json.loads(arguments.split(" CMD ", 1)[1])
    return command


def test_the_image_is_multi_stage_on_a_slim_base(stages: list[list[Instruction]]) -> None:
    assert len(stages) >= 2
    assert all("slim" in stage[0][1] for stage in stages)
    final = stages[-1]
    assert any(k == "COPY" and a.startswith("--from=") for k, a in final)
    assert not any(k == "RUN" and "pip install" in a for k, a in final)  # built in the first


def test_the_final_stage_runs_as_a_non_root_user(stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    users = [a for k, a in final if k == "USER"]
    assert users, "the final stage has no USER"
    user, _, group = users[-1].partition(":")
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"
    assert int(user) != 0
    assert group
    assert int(group) != 0
    created = next(a for k, a in final if k == "RUN" and "useradd" in a)
    assert f"--uid {user}" in created
    # the user is set after every RUN that needs root
    last_user = max(i for i, (k, _) in enumerate(final) if k == "USER")
    assert all(k != "RUN" for k, _ in final[last_user:])


def test_state_and_registry_are_volumes_owned_by_that_user(
        stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    env = _env(final)
    volumes = set(json.loads(next(a for k, a in final if k == "VOLUME")))
    assert env["STATE_DIR"] in volumes
    assert env["MODEL_REGISTRY_DIR"] in volumes
    assert Path(env["MODEL_PATH"]).parent == Path(env["MODEL_REGISTRY_DIR"])
    chown = next(a for k, a in final if k == "RUN" and "chown" in a)
    for volume in volumes:
        assert volume in chown or any(volume.startswith(p) for p in re.findall(r"/\S+", chown))


def test_environment_names_are_settings(stages: list[list[Instruction]]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    env = _env(stages[-1])
    # NUMBA_CACHE_DIR is numba's own: the feature kernels' compiled cache must be writable
    # under a read-only root filesystem, and /tmp is the volume deploy/k8s mounts for it
    ours = set(env) - {"PATH", "PYTHONUNBUFFERED", "NUMBA_CACHE_DIR"}
    assert ours <= known, ours - known
    assert env["NUMBA_CACHE_DIR"].startswith("/tmp/")
    assert env["LOG_FORMAT"] == "json"
    assert env["SIDECAR_HOST"] == "0.0.0.0"  # reachable from outside the container


def test_the_healthcheck_asks_health_on_the_sidecar_port(
        stages: list[list[Instruction]], live_sink: LiveSidecar) -> None:
    command = _healthcheck_command(stages[-1])
    assert "/health" in " ".join(command)
    assert command[0] == "python"
    run = [sys.executable, *command[1:]]
    ok = subprocess.run(run, env={**os.environ, "SIDECAR_PORT": str(live_sink.port)},
                        capture_output=True, timeout=30, check=False)
    assert ok.returncode == 0, ok.stderr
    nobody = subprocess.run(run, env={**os.environ, "SIDECAR_PORT": str(free_port())},
                            capture_output=True, timeout=30, check=False)
    assert nobody.returncode != 0


def test_the_entrypoint_is_the_cli(stages: list[list[Instruction]]) -> None:
    final = dict(stages[-1])
    assert json.loads(final["ENTRYPOINT"]) == ["predelinq"]
    assert json.loads(final["CMD"]) == ["worker"]


def test_the_build_context_leaves_out_secrets_and_local_state(repo_root_path: Path) -> None:
    ignored = (repo_root_path / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert {".env", ".venv", "var", ".git"} <= set(ignored)

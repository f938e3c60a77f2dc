"""``predelinq worker``: load and verify the model, then run the Faust worker + sidecar."""

from __future__ import annotations

import argparse

from model_registry import RegistryError
from stream_app.settings import load_settings

from .main import CliError


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    from stream_app.scoring import ScoringModel
    from stream_app.worker import WorkerRuntime

    try:
        model = ScoringModel.load(settings.model_path)
    except RegistryError as exc:
        raise CliError(
            f"cannot load the model at MODEL_PATH={settings.model_path}: {exc}") from None
    if settings.model_version and model.version != settings.model_version:
        raise CliError(f"MODEL_VERSION={settings.model_version} is pinned but MODEL_PATH "
                       f"holds version {model.version}")
    return WorkerRuntime(settings, model).run()

"""``predelinq worker``: load and verify the model, then run the Faust worker + sidecar."""

from __future__ import annotations

import argparse
from pathlib import Path

from model_registry import RegistryError
from stream_app.settings import EventLoop, load_settings

from .main import CliError


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.event_loop is EventLoop.UVLOOP:  # before anything creates a loop
        import asyncio

        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from stream_app.observability import configure_logging, redaction_level

    # the same handler faust installs when the worker starts (logging_config), so that what
    # is logged while the worker is built is in LOG_FORMAT too
    configure_logging(settings.log_format, settings.log_level,
                      redact_from=redaction_level(settings))
    from stream_app.observability import start_allocation_reports

    start_allocation_reports(settings.allocation_report_seconds)  # off unless tracing
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
    challenger = None
    if settings.challenger_model_path and Path(settings.challenger_model_path).exists():
        try:
            challenger = ScoringModel.load(settings.challenger_model_path)
        except RegistryError as exc:
            raise CliError(f"cannot load the challenger at CHALLENGER_MODEL_PATH="
                           f"{settings.challenger_model_path}: {exc}") from None
    from stream_app.policy import PolicyFileError, load_policy

    try:
        load_policy(settings.policy_path)  # refuse to start on an invalid policy file
    except PolicyFileError as exc:
        raise CliError(str(exc)) from None
    return WorkerRuntime(settings, model, challenger=challenger).run()

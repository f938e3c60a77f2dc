"""``predelinq train``: features by replay, CatBoost, a new registry version."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import progress_bar
from .main import CliError

if TYPE_CHECKING:
    from stream_app.training import Dataset, Evaluation, TrainedModel

LEAD_TIME_CUSTOMERS = 400  # customers of the fresh simulation for the report's lead times


def run(args: argparse.Namespace) -> int:
    from model_registry import RegistryError, promote
    from stream_app.offline import EventLogError, LabelFileError, UnknownCustomersError
    from stream_app.settings import load_settings
    from stream_app.training import (
        TrainingError,
        TrainingParams,
        model_fingerprint,
        save_trained_model,
        train_model,
    )

    settings = load_settings()
    registry = Path(args.registry or settings.model_registry_dir)
    params = TrainingParams(iterations=args.iterations, seed=args.seed)
    try:
        dataset, extra = _training_data(args)
        with progress_bar("training", params.iterations) as bar:
            trained = train_model(dataset, params, lambda i, n: bar.update(i + 1, n))
    except (EventLogError, LabelFileError, UnknownCustomersError, TrainingError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    created = dt.datetime.now(dt.UTC)
    lead_simulation = None
    if args.simulate is not None:  # customers, days, seed: not the training customers
        lead_simulation = (min(LEAD_TIME_CUSTOMERS, args.simulate), args.days, args.seed + 1)
    evaluation, files = model_report(trained, dataset, extra_metadata=extra, created=created,
                                     lead_simulation=lead_simulation)
    try:
        version = save_trained_model(registry, trained, extra_metadata=extra,
                                     extra_files=files, now=created)
    except RegistryError as exc:
        # training is deterministic: the same data and parameters give the same trees, and
        # the same version name on the same day
        existing = _identical_version(registry, model_fingerprint(trained.model))
        if existing is None:
            raise CliError(str(exc)) from None
        version = existing
        print(f"an identical model is already registered as {version.version}")
    if not args.no_promote:
        promote(registry, version.version, "champion")  # recorded: rollback can undo it
    validation = trained.metrics["validation"]
    print(f"model {version.version} written to {version.path}")
    print("validation: " + ", ".join(
        f"{k}={validation[k]:.4f}" for k in ("roc_auc", "pr_auc", "ks", "brier")))
    from ._evaluate import summary

    print("held-out rows (validation and out-of-time):")
    for line in summary(evaluation):
        print(f"  {line}")
    print(f"report: {version.path / 'report.md'}")
    if not args.no_promote:
        print(f"champion -> {version.version}")
    return 0


def simulated_dataset(customers: int, days: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """Simulate, label and replay in one pass (no file in between)."""
    from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
    from stream_app.training import build_dataset

    config = SimulationConfig(customers=customers, days=days, seed=seed)
    simulator = BankSimulator(config)
    with progress_bar("simulating days", days) as bar:
        events = []
        for day, day_events in simulator.days():
            events.extend(day_events)
            bar.update(day + 1)
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=days)
    with progress_bar("replaying events", len(events)) as bar:
        def records() -> Iterator[dict[str, Any]]:
            for count, record in enumerate(events, 1):
                if count % 20_000 == 0:
                    bar.update(count)
                yield record
            bar.update(len(events))

        dataset = build_dataset(records(), labels)
    return dataset, {"training_source": {"simulated_customers": customers, "days": days,
                                         "seed": seed}}


def model_report(
    trained: TrainedModel,
    dataset: Dataset,
    *,
    extra_metadata: dict[str, Any],
    created: dt.datetime,
    lead_simulation: tuple[int, int, int] | None,
) -> tuple[Evaluation, dict[str, bytes]]:
    """The evaluation report saved with the version (``{relative path: bytes}``): the held-out
    rows (validation customers and out-of-time rows) and, with ``lead_simulation``
    ``(customers, days, seed)``, lead times on a fresh simulation."""
    import tempfile

    import numpy as np

    from model_registry import ModelVersion
    from stream_app.scoring import ScoringModel
    from stream_app.training import evaluate_model, version_metadata
    from stream_app.training._report import report_files, write_report

    from ._evaluate import simulate, simulated_lead_times

    name, metadata = version_metadata(trained, extra_metadata=extra_metadata, now=created)
    model = ScoringModel(ModelVersion(Path(name), name, metadata), trained.model)
    validation, out_of_time = trained.rows["validation"], trained.rows["out_of_time"]
    evaluation = evaluate_model(model, dataset.subset(np.concatenate([validation, out_of_time])))
    source = (f"held-out rows of the training data: {len(validation):,} rows of the validation "
              "customers (never trained on)")
    cutoff = trained.split.get("out_of_time_from")
    if len(out_of_time) and isinstance(cutoff, int):
        day = dt.datetime.fromtimestamp(cutoff / 1000, dt.UTC).date()
        source += f" and {len(out_of_time):,} out-of-time rows (as of {day} or later)"
    notes: list[str] = []
    if lead_simulation is not None:
        simulation = simulate(*lead_simulation)
        evaluation = evaluation.with_lead_times(simulated_lead_times(model, simulation))
        notes.append("Detection lead times are measured on a fresh simulation, not the "
                     f"training customers: {simulation.description}.")
    with tempfile.TemporaryDirectory(prefix="predelinq-report-") as directory:
        write_report(Path(directory), evaluation, metadata, source, notes)
        return evaluation, report_files(Path(directory))


def _training_data(args: argparse.Namespace) -> tuple[Dataset, dict[str, Any]]:
    """The labelled dataset: simulated, or replayed from ``--events`` at ``--labels``."""
    from stream_app.offline import read_points
    from stream_app.training import build_dataset

    from ._replay import read_event_log

    if args.simulate is not None:
        if args.simulate < 50:
            raise CliError("--simulate needs at least 50 customers", code=2)
        return simulated_dataset(args.simulate, args.days, args.seed)
    if not args.labels:
        raise CliError("--events needs --labels", code=2)
    points = read_points(Path(args.labels), require_label=True)
    with progress_bar("replaying events", None) as bar:
        def records() -> Iterator[dict[str, Any]]:
            for count, record in enumerate(read_event_log(Path(args.events)), 1):
                if count % 10_000 == 0:
                    bar.update(count)
                yield record

        dataset = build_dataset(records(), points)
    return dataset, {"training_source": {"events": str(args.events),
                                         "labels": str(args.labels)}}


def _identical_version(registry: Path, fingerprint: str) -> Any:
    """The registered version with these exact trees, if any (verified)."""
    from model_registry import RegistryError, list_versions, open_version

    for name in list_versions(registry):
        try:
            version = open_version(registry / "versions" / name)
        except RegistryError:
            continue
        if version.metadata.get("model_fingerprint") == fingerprint:
            return version
    return None

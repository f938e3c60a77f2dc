"""``predelinq train``: features by replay, CatBoost, a new registry version."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import progress_bar
from .main import CliError

if TYPE_CHECKING:
    from stream_app.training import Dataset, Evaluation, TrainedModel

LEAD_TIME_CUSTOMERS = 600  # customers of the fresh simulation for the report's capture


def run(args: argparse.Namespace) -> int:
    from model_registry import RegistryError, promote
    from stream_app.offline import EventLogError, LabelFileError, UnknownCustomersError
    from stream_app.settings import load_settings
    from stream_app.training import (
        TrainingError,
        TrainingParams,
        fit_contact_scale,
        model_fingerprint,
        save_trained_model,
        train_model,
    )

    settings = load_settings()
    registry = Path(args.registry or settings.model_registry_dir)
    params = TrainingParams(iterations=args.iterations, seed=args.seed)
    try:
        dataset, assessment, extra, events = _training_data(args)
        with progress_bar("training", params.iterations) as bar:
            trained = train_model(dataset, params, lambda i, n: bar.update(i + 1, n),
                                  arrears=assessment)
        with progress_bar("fitting the score scale on the validation customers", None):
            trained = fit_contact_scale(trained, dataset, events())
    except (EventLogError, LabelFileError, UnknownCustomersError, TrainingError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    created = dt.datetime.now(dt.UTC)
    lead_simulation = None
    if args.simulate is not None:  # customers, days, seed: not the training customers
        lead_simulation = (min(LEAD_TIME_CUSTOMERS, args.simulate), args.days, args.seed + 1,
                           args.scenario)
    evaluation, files = model_report(trained, dataset, extra_metadata=extra, created=created,
                                     lead_simulation=lead_simulation,
                                     threshold=settings.auto_trigger_threshold)
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


def simulated_dataset(customers: int, days: int, seed: int, *, scenario: str = "reference",
                      target: str = "dpd30"
                      ) -> tuple[Any, Any, dict[str, Any], list[dict[str, Any]]]:
    """Simulate, label and replay in one pass (no file in between): the pre-delinquency
    dataset (current points only), the fitted arrears assessment, the metadata and the
    simulated events."""
    from stream_app.scoring import arrears_points
    from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
    from stream_app.training import build_training_data

    config = SimulationConfig(customers=customers, days=days, seed=seed, scenario=scenario)
    simulator = BankSimulator(config)
    with progress_bar("simulating days", days) as bar:
        events = []
        for day, day_events in simulator.days():
            events.extend(day_events)
            bar.update(day + 1)
    truths = simulator.truths
    labels = labels_from_truth(truths, start_ms=config.start_ms, days=days, target=target)
    if not labels:
        raise CliError("no labelled points: --days must be at least 151 (labels start on day "
                       "60 and need a 90-day outcome window)", code=2)
    arrears = arrears_points({t.customer_id: t.dpd_by_day for t in truths},
                             start_ms=config.start_ms, days=days)
    with progress_bar("replaying events", len(events)) as bar:
        def records() -> Iterator[dict[str, Any]]:
            for count, record in enumerate(events, 1):
                if count % 20_000 == 0:
                    bar.update(count)
                yield record
            bar.update(len(events))

        dataset, assessment = build_training_data(records(), labels, arrears)
    return dataset, assessment, {
        "training_source": {"simulated_customers": customers, "days": days, "seed": seed,
                            "scenario": scenario},
        "target": {"name": target, "horizon_days": 90,
                   "definition": ("reaches 30 days past due within 90 days" if target == "dpd30"
                                  else "misses a payment within 90 days"),
                   "population": "points where the customer is current"},
    }, events


def model_report(
    trained: TrainedModel,
    dataset: Dataset,
    *,
    extra_metadata: dict[str, Any],
    created: dt.datetime,
    lead_simulation: tuple[int, int, int, str] | None,
    threshold: int = 80,
) -> tuple[Evaluation, dict[str, bytes]]:
    """The evaluation report saved with the version (``{relative path: bytes}``): the held-out
    rows (validation customers and out-of-time rows) and, with ``lead_simulation``
    ``(customers, days, seed, scenario)``, capture while current on a fresh simulation."""
    import tempfile

    import numpy as np

    from model_registry import ModelVersion
    from stream_app.scoring import ScoringModel
    from stream_app.training import DpdHistory, evaluate_model, version_metadata
    from stream_app.training._report import report_files, write_report

    from ._evaluate import capture_of, simulate

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
        history = DpdHistory.from_truths(simulation.truths, start_ms=simulation.start_ms,
                                         days=simulation.days)
        evaluation = evaluation.with_capture(capture_of(
            model, simulation.events, history, threshold=threshold, warmup_days=90))
        notes.append("Capture while current is measured on a fresh simulation, not the "
                     f"training customers: {simulation.description}.")
    with tempfile.TemporaryDirectory(prefix="predelinq-report-") as directory:
        write_report(Path(directory), evaluation, metadata, source, notes)
        return evaluation, report_files(Path(directory))


def _training_data(args: argparse.Namespace
                   ) -> tuple[Dataset, Any, dict[str, Any], Callable[[], Iterator[Any]]]:
    """The labelled dataset and the arrears assessment: simulated, or replayed from
    ``--events`` at ``--labels`` (the arrears table from the log's DELINQUENCY_STATUS
    events)."""
    from stream_app.offline import read_points
    from stream_app.scoring import arrears_points
    from stream_app.training import DpdHistory, build_training_data

    from ._replay import read_event_log

    if args.simulate is not None:
        if args.simulate < 50:
            raise CliError("--simulate needs at least 50 customers", code=2)
        dataset, assessment, extra, events = simulated_dataset(
            args.simulate, args.days, args.seed, scenario=args.scenario, target=args.target)
        return dataset, assessment, extra, lambda: iter(events)
    if not args.labels:
        raise CliError("--events needs --labels", code=2)
    points = read_points(Path(args.labels), require_label=True)
    history = DpdHistory.from_records(read_event_log(Path(args.events)))
    arrears = arrears_points(history.dpd, start_ms=history.start_ms, days=history.days)
    with progress_bar("replaying events", None) as bar:
        def records() -> Iterator[dict[str, Any]]:
            for count, record in enumerate(read_event_log(Path(args.events)), 1):
                if count % 10_000 == 0:
                    bar.update(count)
                yield record

        dataset, assessment = build_training_data(records(), points, arrears)
    return dataset, assessment, {"training_source": {"events": str(args.events),
                                                     "labels": str(args.labels)}}, (
        lambda: read_event_log(Path(args.events)))


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

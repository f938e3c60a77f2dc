"""``predelinq evaluate``: a model's metrics, calibration, reason codes and, on simulated data,
detection lead times, written as ``report.md`` with plots into ``--out``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import progress_bar
from .main import CliError

if TYPE_CHECKING:
    from stream_app.scoring import ScoringModel
    from stream_app.simulate import CustomerTruth
    from stream_app.training import Dataset, Evaluation, LeadTimes

MIN_CUSTOMERS = 50


@dataclass(frozen=True)
class Simulation:
    events: list[dict[str, Any]]
    truths: list[CustomerTruth]
    start_ms: int
    days: int
    description: str


def load_model(model: str | None) -> ScoringModel:
    """The model at ``--model``, else at MODEL_PATH; registry problems become CliError."""
    from model_registry import ModelNotFoundError, RegistryError
    from stream_app.scoring import ScoringModel

    if model:
        path = Path(model)
    else:
        from stream_app.settings import load_settings

        path = Path(load_settings().model_path)
    try:
        return ScoringModel.load(path)
    except ModelNotFoundError:
        raise CliError(f"no model at {path}: pass --model (a version directory or an alias "
                       "link such as var/model_registry/champion) or set MODEL_PATH; "
                       "`predelinq train` creates one") from None
    except RegistryError as exc:  # corrupt, incompatible feature list, unreadable by CatBoost
        raise CliError(f"the model at {path} cannot be used: {exc}") from None


def simulate(customers: int, days: int, seed: int) -> Simulation:
    from stream_app.simulate import BankSimulator, SimulationConfig

    config = SimulationConfig(customers=customers, days=days, seed=seed)
    simulator = BankSimulator(config)
    events: list[dict[str, Any]] = []
    with progress_bar("simulating days", days) as bar:
        for day, day_events in simulator.days():
            events.extend(day_events)
            bar.update(day + 1)
    return Simulation(events, simulator.truths, config.start_ms, days,
                      f"{customers:,} simulated customers x {days} days, seed {seed}")


def simulated_lead_times(model: ScoringModel, simulation: Simulation) -> LeadTimes:
    """Score every simulated event as the stream does, then lead times against the truth."""
    from stream_app.training import lead_times, score_history

    with progress_bar("scoring every event", len(simulation.events)) as bar:
        history = score_history(model, simulation.events, start_ms=simulation.start_ms,
                                on_rows=bar.update)
        bar.update(len(simulation.events))
    return lead_times(history, simulation.truths)


def _simulated_dataset(simulation: Simulation) -> Dataset:
    from stream_app.simulate import labels_from_truth
    from stream_app.training import build_dataset

    labels = labels_from_truth(simulation.truths, start_ms=simulation.start_ms,
                               days=simulation.days)
    if not labels:
        raise CliError("no labelled points: --days must be at least 121 (labels start on day 60 "
                       "and need a 60-day outcome window)", code=2)
    with progress_bar("replaying events", len(simulation.events)) as bar:
        dataset = build_dataset(simulation.events, labels)
        bar.update(len(simulation.events))
    return dataset


def _logged_dataset(events: Path, labels: Path) -> Dataset:
    from stream_app.offline import read_points
    from stream_app.training import build_dataset

    from ._replay import read_event_log

    points = read_points(labels, require_label=True)
    with progress_bar("replaying events", None) as bar:
        def records() -> Iterator[dict[str, Any]]:
            for count, record in enumerate(read_event_log(events), 1):
                if count % 20_000 == 0:
                    bar.update(count)
                yield record

        return build_dataset(records(), points)


def _seed_overlap_note(model: ScoringModel, args: argparse.Namespace) -> str | None:
    source = model.metadata.get("training_source")
    if isinstance(source, dict) and "simulated_customers" in source \
            and source.get("seed") == args.seed:
        return (f"The simulation seed {args.seed} is the model's training seed: the simulated "
                "customers are the training customers. Pass another --seed for an honest "
                "evaluation.")
    return None


def _check_arguments(args: argparse.Namespace) -> None:
    if args.simulate is not None:
        if args.simulate < MIN_CUSTOMERS:
            raise CliError(f"--simulate needs at least {MIN_CUSTOMERS} customers", code=2)
    elif not args.labels:
        raise CliError("--events needs --labels (CSV customer_id,as_of,label)", code=2)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} exists and is not a directory", code=2)


def run(args: argparse.Namespace) -> int:
    from stream_app.offline import EventLogError, LabelFileError, UnknownCustomersError
    from stream_app.training import EvaluationError, TrainingError, evaluate_model

    _check_arguments(args)
    model = load_model(args.model)
    notes: list[str] = []
    try:
        if args.simulate is not None:
            simulation = simulate(args.simulate, args.days, args.seed)
            source = simulation.description
            evaluation = evaluate_model(model, _simulated_dataset(simulation))
            evaluation = evaluation.with_lead_times(simulated_lead_times(model, simulation))
            overlap = _seed_overlap_note(model, args)
            if overlap:
                print(f"warning: {overlap}", file=sys.stderr)
                notes.append(overlap)
        else:
            source = f"event log {args.events}, labels {args.labels}"
            evaluation = evaluate_model(model, _logged_dataset(Path(args.events),
                                                               Path(args.labels)))
    except (EventLogError, LabelFileError, UnknownCustomersError, TrainingError,
            EvaluationError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    report = write(Path(args.out), evaluation, model.metadata, source, notes)
    print(f"model {evaluation.model_version} evaluated on {source}")
    for line in summary(evaluation):
        print(line)
    print(f"report: {report}")
    return 0


def write(out: Path, evaluation: Evaluation, metadata: dict[str, Any], source: str,
          notes: list[str]) -> Path:
    from stream_app.training._report import write_report

    try:
        return write_report(out, evaluation, metadata, source, notes)[0]
    except OSError as exc:
        raise CliError(f"cannot write the report to {out}: {exc.strerror or exc}") from None


def summary(evaluation: Evaluation) -> list[str]:
    """A few lines for the terminal: metrics, flagged rows, lead times."""
    m = evaluation.metrics
    lines = [
        f"{m['rows']:,.0f} rows, {m['positives']:,.0f} positives: ROC-AUC {m['roc_auc']:.4f}, "
        f"PR-AUC {m['pr_auc']:.4f}, KS {m['ks']:.4f}, Brier {m['brier']:.4f}, "
        f"capture top 5% {m['capture_top5pct']:.3f}, top 10% {m['capture_top10pct']:.3f}",
        f"{evaluation.flagged_rows:,} rows scored HIGH or CRITICAL"
        + (f" (most frequent reason {evaluation.reasons[0].code})" if evaluation.reasons else ""),
    ]
    lead = evaluation.lead_times
    if lead is None:
        return lines
    for detection in (lead.at_target, lead.at_high_band):
        text = (f"lead time at {detection.rule}: score >= {detection.threshold}, "
                f"{detection.false_alarm_rate:.1%} false alarms, "
                f"{detection.detected}/{detection.positives} reaching {lead.threshold_dpd} DPD "
                "detected")
        if detection.lead_days:
            text += (f", median {detection.lead_quantile(0.5):.1f} days "
                     f"(p25 {detection.lead_quantile(0.25):.1f}, "
                     f"p75 {detection.lead_quantile(0.75):.1f})")
        lines.append(text)
    return lines

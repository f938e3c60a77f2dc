"""``predelinq evaluate``: a model's metrics, calibration, reason codes and, on data with a
days-past-due history (simulated, or logged DELINQUENCY_STATUS events), capture while current
against contact volume, written as ``report.md`` with plots into ``--out``."""

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
    from stream_app.training import CaptureReport, Dataset, Evaluation

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


def simulate(customers: int, days: int, seed: int, scenario: str = "reference") -> Simulation:
    from stream_app.simulate import BankSimulator, SimulationConfig

    config = SimulationConfig(customers=customers, days=days, seed=seed, scenario=scenario)
    simulator = BankSimulator(config)
    events: list[dict[str, Any]] = []
    with progress_bar("simulating days", days) as bar:
        for day, day_events in simulator.days():
            events.extend(day_events)
            bar.update(day + 1)
    return Simulation(events, simulator.truths, config.start_ms, days,
                      f"{customers:,} simulated customers x {days} days, seed {seed}, "
                      f"scenario {scenario}")


def operating_points(model: ScoringModel, threshold: int) -> list[tuple[str, int]]:
    from stream_app.policy import load_policy

    high = load_policy(None).band_cutoffs.high
    return [("HIGH band", high), ("AUTO_TRIGGER_THRESHOLD", threshold)]


def capture_of(model: ScoringModel, records: list[dict[str, Any]], history: Any, *,
               threshold: int, warmup_days: int) -> CaptureReport:
    """Score every event as the stream does, then capture against the days-past-due
    history."""
    from stream_app.training import capture_report, score_history

    with progress_bar("scoring every event", len(records)) as bar:
        scores = score_history(model, records, start_ms=history.start_ms, on_rows=bar.update)
        bar.update(len(records))
    if history.days <= warmup_days:
        raise CliError(f"the data cover {history.days} days: capture needs more than the "
                       f"{warmup_days} days of warm-up (--warmup-days)", code=2)
    return capture_report(scores, history, operating_points=operating_points(model, threshold),
                          warmup_days=warmup_days)


def _simulated_dataset(simulation: Simulation) -> Dataset:
    from stream_app.simulate import labels_from_truth
    from stream_app.training import build_dataset

    labels = labels_from_truth(simulation.truths, start_ms=simulation.start_ms,
                               days=simulation.days)
    if not labels:
        raise CliError("no labelled points: --days must be at least 151 (labels start on day 60 "
                       "and need a 90-day outcome window)", code=2)
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
    from stream_app.settings import load_settings
    from stream_app.training import DpdHistory, EvaluationError, TrainingError, evaluate_model

    from ._replay import read_event_log

    _check_arguments(args)
    model = load_model(args.model)
    threshold = (args.threshold if args.threshold is not None
                 else load_settings().auto_trigger_threshold)
    notes: list[str] = []
    try:
        if args.simulate is not None:
            simulation = simulate(args.simulate, args.days, args.seed, args.scenario)
            source = simulation.description
            evaluation = evaluate_model(model, _simulated_dataset(simulation))
            history = DpdHistory.from_truths(simulation.truths, start_ms=simulation.start_ms,
                                             days=simulation.days)
            evaluation = evaluation.with_capture(capture_of(
                model, simulation.events, history, threshold=threshold,
                warmup_days=args.warmup_days))
            overlap = _seed_overlap_note(model, args)
            if overlap:
                print(f"warning: {overlap}", file=sys.stderr)
                notes.append(overlap)
        else:
            source = f"event log {args.events}, labels {args.labels}"
            evaluation = evaluate_model(model, _logged_dataset(Path(args.events),
                                                               Path(args.labels)))
            records = list(read_event_log(Path(args.events)))
            history = DpdHistory.from_records(records)
            if history.has_arrears:
                evaluation = evaluation.with_capture(capture_of(
                    model, records, history, threshold=threshold,
                    warmup_days=args.warmup_days))
            else:
                notes.append("The event log has no DELINQUENCY_STATUS event with days past "
                             "due: capture while current cannot be measured.")
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
    """A few lines for the terminal: metrics, flagged rows, capture while current."""
    m = evaluation.metrics
    lines = [
        f"{m['rows']:,.0f} current rows, {m['positives']:,.0f} positives: ROC-AUC "
        f"{m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, KS {m['ks']:.4f}, Brier "
        f"{m['brier']:.4f}, capture top 5% {m['capture_top5pct']:.3f}, top 10% "
        f"{m['capture_top10pct']:.3f}",
        f"{evaluation.flagged_rows:,} rows scored HIGH or CRITICAL"
        + (f" (most frequent reason {evaluation.reasons[0].code})" if evaluation.reasons else ""),
    ]
    capture = evaluation.capture
    if capture is None:
        return lines
    points = [(f"false alarms <= {capture.target_false_alarm_rate:.0%}", capture.at_target),
              *capture.operating_points]
    for name, point in points:
        rate = point.capture_rate
        text = (f"{name}: score >= {point.threshold}: "
                f"{point.captured}/{point.positives} future 30-DPD customers flagged while "
                f"current ({0.0 if rate is None else rate:.0%})")
        if point.lead_days:
            text += (f", median {point.median_lead_days:.0f} days before the missed due date "
                     f"(p25 {point.lead_quantile(0.25):.0f})")
        text += (f"; {point.false_alarm_rate:.1%} false alarms; "
                 f"{point.contacts_per_1000_month:.1f} contacts per 1,000 per month")
        lines.append(text)
    return lines

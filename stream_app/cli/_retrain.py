"""``predelinq retrain``: a candidate from an event archive, gated against the champion.

1. Read the archive (the event-log formats of ``train --events``: JSON Lines, ``.avro`` or a
   directory of them) and label it from its own ``DELINQUENCY_STATUS`` events with the
   simulator's rules (``labels_from_truth``: current points every 7 days from day 60, label 1
   when 30 days past due is reached within 90 days, points whose 90 days are not over left
   out).
2. Split by event time: the labelled points of the latest ``--gate-share`` of as-of times are
   the gate slice; the earlier ones (and only the events before the cut for the score scale
   and the roll-rate table) train the candidate with ``train``'s code.
3. Measure the candidate and the champion (alias ``champion`` of the registry) on the same
   slice: ROC-AUC of its points and capture while current at ``--threshold`` over the days
   from the cut on (every event replayed and scored as the stream does).
4. Register the candidate, point ``challenger`` at it, and ``champion`` too when the gate
   passes (:mod:`stream_app.training._gate`). ``gate.json`` and ``gate.md`` go into the
   version (checksummed) and into ``--out``.

The candidate promoted is the model that was gated (trained on the earlier part), not a refit
on the whole archive: what is measured is what serves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream_app.features import FEATURE_NAMES

from ._progress import progress_bar
from .main import CliError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from stream_app.scoring import ScoringModel
    from stream_app.training import Dataset, DpdHistory
    from stream_app.training._gate import GateDecision, GateFigures, GateRules

    Ints = npt.NDArray[np.int64]
    Floats = npt.NDArray[np.float64]

DAY_MS = 86_400_000
MIN_LABEL_DAYS = 151  # labels start on day 60 and need a 90-day outcome window


def run(args: argparse.Namespace) -> int:
    from model_registry import RegistryError, promote, resolve_alias
    from stream_app.offline import EventLogError, UnknownCustomersError
    from stream_app.settings import load_settings
    from stream_app.training import EvaluationError, TrainingError
    from stream_app.training._gate import decide, gate_markdown, gate_report

    settings = load_settings()
    registry = Path(args.registry or settings.model_registry_dir)
    threshold = args.threshold if args.threshold is not None else (
        settings.auto_trigger_threshold)
    rules = _rules(args)
    archive = Path(args.events)
    try:
        records = _read_archive(archive)
        history = _history(records, archive)
        champion_model = _champion(registry, resolve_alias(registry, "champion"))
        split = _split(records, history, args.gate_share)
        created = dt.datetime.now(dt.UTC)
        candidate, trained, train_set = _train_candidate(args, split, records, created)
        gate_set = split.dataset.subset(split.gate_rows)
        rows = _stream_rows(records, start_ms=history.start_ms, from_day=split.cut_day)
        measure = functools.partial(_figures, gate_set=gate_set, rows=rows, history=history,
                                    cut_day=split.cut_day, threshold=threshold)
        candidate_figures = measure(candidate)
        champion_figures = None if champion_model is None else measure(champion_model)
    except (EventLogError, UnknownCustomersError, TrainingError, EvaluationError) as exc:
        raise CliError(f"cannot retrain from {archive}: {exc}") from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    decision = decide(candidate_figures, champion_figures, rules)
    cut = dt.datetime.fromtimestamp(split.cutoff / 1000, dt.UTC)
    report = gate_report(
        candidate_figures, champion_figures, rules, decision,
        archive=str(archive), threshold=threshold,
        gate_slice=(f"as of {cut:%Y-%m-%d} or later: {len(split.gate_rows):,} labelled "
                    f"current points, capture from day {split.cut_day} to day "
                    f"{history.days - 1} of the archive"),
        training_rows=len(split.train_rows))
    files = {"gate.json": (json.dumps(report, indent=2) + "\n").encode(),
             "gate.md": gate_markdown(report).encode()}
    version = _register(registry, trained, train_set, files, archive=archive,
                        threshold=threshold, created=created)
    if version != candidate.version:
        print(f"an identical model is already registered as {version}")
    out = Path(args.out) if args.out else registry / "gate-reports" / version
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    try:
        promote(registry, version, "challenger")
        if decision.promote:
            promote(registry, version, "champion")
    except RegistryError as exc:
        raise CliError(str(exc)) from None
    print(gate_markdown(report), end="")
    print(f"gate report: {out / 'gate.json'}")
    _announce(version, decision, champion_figures)
    return 0


def _rules(args: argparse.Namespace) -> GateRules:
    from stream_app.training._gate import GateRules

    if not 0.0 < args.gate_share < 1.0:
        raise CliError(f"--gate-share must be between 0 and 1, got {args.gate_share}", code=2)
    try:
        return GateRules(args.auc_tolerance, args.capture_tolerance, args.min_auc)
    except ValueError as exc:
        raise CliError(str(exc), code=2) from None


def _announce(version: str, decision: GateDecision, champion: GateFigures | None) -> None:
    if decision.promote:
        print(f"PROMOTED: champion -> {version} (also challenger)")
        return
    kept = champion.version if champion is not None else "none"
    print(f"KEPT CHAMPION {kept}: candidate {version} registered as challenger "
          f"(gate failed: {', '.join(c.name for c in decision.failed)})")


def _read_archive(path: Path) -> list[dict[str, Any]]:
    from ._replay import read_event_log

    with progress_bar("reading the archive", None):
        records = list(read_event_log(path))
    if not records:
        raise CliError(f"cannot retrain from {path}: the archive holds no events")
    return records


def _history(records: list[dict[str, Any]], path: Path) -> DpdHistory:
    from stream_app.training import DpdHistory

    history = DpdHistory.from_records(records)
    if not history.customers:
        raise CliError(f"cannot retrain from {path}: no event has a customer_id and an "
                       "occurred_at")
    if not history.has_arrears:
        raise CliError(f"cannot retrain from {path}: no DELINQUENCY_STATUS event with days "
                       "past due, so no label can be built (the archive must hold the "
                       "payments topic's arrears status events)")
    if history.days < MIN_LABEL_DAYS:
        raise CliError(f"cannot retrain from {path}: it covers {history.days} days; labels "
                       f"need at least {MIN_LABEL_DAYS} (points from day 60, a 90-day outcome "
                       "window)")
    return history


def _champion(registry: Path, version: str | None) -> ScoringModel | None:
    from model_registry import RegistryError
    from stream_app.scoring import ScoringModel

    if version is None:
        return None
    try:
        return ScoringModel.load(registry / "champion")
    except RegistryError as exc:
        raise CliError(f"the champion {version} in {registry} cannot be loaded: {exc} (fix or "
                       "roll it back with `predelinq registry rollback` first)") from None


class _Split:
    def __init__(self, dataset: Dataset, assessment: Any, cutoff: int, cut_day: int) -> None:
        import numpy as np

        self.dataset, self.assessment = dataset, assessment
        self.cutoff, self.cut_day = cutoff, cut_day
        self.train_rows = np.flatnonzero(dataset.as_of < cutoff)
        self.gate_rows = np.flatnonzero(dataset.as_of >= cutoff)


def _split(records: list[dict[str, Any]], history: DpdHistory, share: float) -> _Split:
    from stream_app.scoring import arrears_points
    from stream_app.simulate import CustomerTruth, labels_from_truth
    from stream_app.training import build_training_data
    from stream_app.training._gate import gate_cutoff

    truths = [CustomerTruth(c, dpd_by_day=dict(history.dpd.get(c, {})))
              for c in history.customers]
    labels = labels_from_truth(truths, start_ms=history.start_ms, days=history.days)
    cutoff = gate_cutoff((lab.as_of for lab in labels), share)
    if cutoff is None:
        raise CliError("too few labelled as-of dates to split by time: the archive needs a "
                       "longer span")
    arrears = [p for p in arrears_points(history.dpd, start_ms=history.start_ms,
                                         days=history.days) if p.as_of < cutoff]
    with progress_bar("replaying events", len(records)) as bar:
        dataset, assessment = build_training_data(records, labels, arrears)
        bar.update(len(records))
    # the first day whose points are all in the gate slice (as-of is a day's last millisecond)
    cut_day = (cutoff - history.start_ms) // DAY_MS
    return _Split(dataset, assessment, cutoff, cut_day)


def _train_candidate(args: argparse.Namespace, split: _Split, records: list[dict[str, Any]],
                     created: dt.datetime) -> tuple[ScoringModel, Any, Dataset]:
    from model_registry import ModelVersion
    from stream_app.scoring import ScoringModel
    from stream_app.training import (
        TrainingParams,
        fit_contact_scale,
        train_model,
        version_metadata,
    )

    train_set = split.dataset.subset(split.train_rows)
    params = TrainingParams(iterations=args.iterations, seed=args.seed)
    with progress_bar("training the candidate", params.iterations) as bar:
        trained = train_model(train_set, params, lambda i, n: bar.update(i + 1, n),
                              arrears=split.assessment)
    earlier = [r for r in records if r["occurred_at"] < split.cutoff]
    with progress_bar("fitting the score scale on the validation customers", None):
        trained = fit_contact_scale(trained, train_set, earlier)
    name, metadata = version_metadata(trained, extra_metadata=_extra(args.events),
                                      now=created)
    return ScoringModel(ModelVersion(Path(name), name, metadata), trained.model), trained, (
        train_set)


def _extra(archive: str) -> dict[str, Any]:
    return {"training_source": {"events": str(archive), "retrain": True},
            "target": {"name": "dpd30", "horizon_days": 90,
                       "definition": "reaches 30 days past due within 90 days",
                       "population": "points where the customer is current"}}


def _stream_rows(records: list[dict[str, Any]], *, start_ms: int, from_day: int
                 ) -> tuple[tuple[str, ...], Ints, Ints, Floats]:
    """One replay for both models: every row the stream would score (a row per applied event
    and per absence deadline, as ``score_history``) from ``from_day`` of the archive on: the
    customers, and per row the customer's index, the day and the feature vector."""
    import numpy as np

    from stream_app.offline import replay_events

    index: dict[str, int] = {}
    customer: list[int] = []
    day: list[int] = []
    vectors: list[list[float]] = []
    with progress_bar("replaying every event as the stream scores it", len(records)) as bar:
        for count, row in enumerate(replay_events(records), 1):
            if count % 20_000 == 0:
                bar.update(min(count, len(records)))
            row_day = (row.as_of - start_ms) // DAY_MS
            if row_day < from_day:
                continue
            customer.append(index.setdefault(row.customer_id, len(index)))
            day.append(row_day)
            vectors.append(row.vector)
    matrix = (np.asarray(vectors, dtype=np.float64) if vectors
              else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float64))
    return (tuple(index), np.asarray(customer, dtype=np.int64), np.asarray(day, dtype=np.int64),
            matrix)


def _figures(model: ScoringModel, *, gate_set: Dataset, rows: tuple[tuple[str, ...], Ints,
             Ints, Floats], history: DpdHistory, cut_day: int, threshold: int
             ) -> GateFigures:
    """ROC-AUC on the gate slice's labelled points, capture while current at ``threshold``
    over the days from the cut on (the stream's rows of those days, scored by ``model``)."""
    import numpy as np

    from stream_app.features import in_arrears
    from stream_app.training import ScoreHistory, capture_at, evaluate_model
    from stream_app.training._gate import GateFigures

    auc = evaluate_model(model, gate_set).metrics["roc_auc"]
    customers, customer, day, matrix = rows
    scores = np.concatenate([model.score(matrix[i:i + 8192]).scores
                             for i in range(0, len(matrix), 8192)] or [np.zeros(0, np.int64)])
    point = capture_at(ScoreHistory(customers, customer, day, scores.astype(np.int64),
                                    ~in_arrears(matrix)),
                       history, threshold, warmup_days=cut_day)
    return GateFigures(model.version, float(auc), point.capture_rate, point.captured,
                       point.positives, point.false_alarm_rate, point.contacts_per_1000_month)


def _register(registry: Path, trained: Any, train_set: Dataset, gate_files: dict[str, bytes], *,
              archive: Path, threshold: int, created: dt.datetime) -> str:
    """Save the candidate with train's report and the gate's files; the version name."""
    from model_registry import RegistryError
    from stream_app.training import model_fingerprint, save_trained_model

    from ._train import _identical_version, model_report

    extra = _extra(str(archive))
    _, files = model_report(trained, train_set, extra_metadata=extra, created=created,
                            lead_simulation=None, threshold=threshold)
    try:
        return save_trained_model(registry, trained, extra_metadata=extra,
                                  extra_files={**files, **gate_files}, now=created).version
    except RegistryError as exc:
        existing = _identical_version(registry, model_fingerprint(trained.model))
        if existing is None:
            raise CliError(str(exc)) from None
        return str(existing.version)

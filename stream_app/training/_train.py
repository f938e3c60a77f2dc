"""Training: labelled points -> point-in-time features (replay) -> CatBoost -> registry version.

Deterministic for a seed: the customer-disjoint split is a hash of the customer id, CatBoost
runs with a fixed seed and thread count, and the version id is a fingerprint of the trees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model_registry import ModelVersion, write_version
from stream_app.features import FEATURE_CODE_SHA256, FEATURE_NAMES, in_arrears
from stream_app.offline import AsOf, ReplayStats, replay_points
from stream_app.scoring import (
    DEFAULT_ANCHORS,
    ArrearsAssessment,
    ArrearsPoint,
    PlattCalibration,
    RiskRankScale,
    build_baseline,
    fit_arrears_assessment,
    fit_platt,
    fit_risk_rank_scale,
    forest_from_catboost,
)

from ._metrics import classification_metrics

__all__ = [
    "Dataset",
    "TrainedModel",
    "TrainingError",
    "TrainingParams",
    "build_dataset",
    "build_training_data",
    "fit_contact_scale",
    "model_fingerprint",
    "save_trained_model",
    "train_model",
    "version_metadata",
]


class TrainingError(ValueError):
    """Inputs that cannot produce a model; the message says what to fix."""


@dataclass(frozen=True)
class TrainingParams:
    iterations: int = 500
    depth: int = 6
    # a slower rate and stronger L2 than CatBoost's defaults: positives are a few percent of
    # the current points, and the validation loss turned up after a few dozen trees at 0.08
    learning_rate: float = 0.05
    l2_leaf_reg: float = 10.0
    early_stopping_rounds: int = 60
    validation_share: float = 0.2
    out_of_time_share: float = 0.2
    seed: int = 7
    thread_count: int = 2
    use_best_model: bool = True  # False keeps every iteration (benchmarks of a fixed size)


@dataclass(frozen=True)
class Dataset:
    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]
    customers: list[str]
    as_of: npt.NDArray[np.int64]

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.features).tobytes())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        digest.update(np.ascontiguousarray(self.as_of).tobytes())
        digest.update("\n".join(self.customers).encode())
        return digest.hexdigest()

    def subset(self, rows: npt.NDArray[np.int64]) -> Dataset:
        """The given rows, in the given order."""
        return Dataset(self.features[rows], self.labels[rows],
                       [self.customers[int(i)] for i in rows], self.as_of[rows])


@dataclass
class TrainedModel:
    model: Any  # catboost.CatBoostClassifier
    params: TrainingParams
    metrics: dict[str, dict[str, float]]
    best_iteration: int
    dataset_fingerprint: str
    calibration: PlattCalibration
    split: dict[str, Any]  # how rows were split (for the report and the metadata)
    # row indexes of each part ("train", "validation", "out_of_time") in the dataset given to
    # train_model (arrears rows it dropped are in none)
    rows: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    # training distribution of the score and the top features (for drift monitoring)
    baseline: dict[str, Any] = field(default_factory=dict)
    scale: RiskRankScale | None = None  # the pre-delinquency score scale
    arrears: ArrearsAssessment = field(default_factory=ArrearsAssessment.prior)


def build_dataset(
    records: Iterable[dict[str, Any]],
    labels: Sequence[AsOf],
    stats: ReplayStats | None = None,
) -> Dataset:
    """Point-in-time features for each labelled point (objects with customer_id, as_of, label):
    the pre-delinquency half of :func:`build_training_data`."""
    return build_training_data(records, labels, (), stats)[0]


def build_training_data(
    records: Iterable[dict[str, Any]],
    labels: Sequence[AsOf],
    arrears: Sequence[ArrearsPoint] = (),
    stats: ReplayStats | None = None,
) -> tuple[Dataset, ArrearsAssessment]:
    """One replay for both tracks: the labelled points' features (the pre-delinquency model's
    data) and the arrears points' features (the roll-rate table's segments)."""
    label_rows: list[list[float]] = []
    targets: list[int] = []
    customers: list[str] = []
    as_of: list[int] = []
    arrears_rows: list[tuple[ArrearsPoint, npt.NDArray[np.float64]]] = []
    points: list[AsOf] = [*labels, *arrears]
    for point, vector in replay_points(records, points, stats):
        if isinstance(point, ArrearsPoint):
            row = np.asarray(vector, dtype=np.float64)
            if in_arrears(row[None, :])[0]:  # the features agree that it is past due
                arrears_rows.append((point, row))
            continue
        label_rows.append(vector)
        targets.append(int(getattr(point, "label")))  # noqa: B009 - AsOf has no label field
        customers.append(point.customer_id)
        as_of.append(point.as_of)
    if not label_rows:
        raise TrainingError("no labelled points: the label file is empty")
    dataset = Dataset(np.asarray(label_rows, dtype=np.float64),
                      np.asarray(targets, dtype=np.int64), customers,
                      np.asarray(as_of, dtype=np.int64))
    assessment = fit_arrears_assessment(arrears_rows) if arrears else ArrearsAssessment.prior()
    return dataset, assessment


def _in_validation(customer_id: str, share: float) -> bool:
    digest = hashlib.blake2b(customer_id.encode(), digest_size=4, person=b"pd-split").digest()
    return int.from_bytes(digest, "big") % 10_000 < share * 10_000


def _out_of_time_cutoff(as_of: npt.NDArray[np.int64], share: float) -> int | None:
    """The first as-of of the latest ``share`` of distinct as-of times, when there are at
    least 4 distinct times (otherwise no out-of-time split)."""
    times = np.unique(as_of)
    if len(times) < 4:
        return None
    return int(times[max(1, int(len(times) * (1 - share)))])


def train_model(
    dataset: Dataset,
    params: TrainingParams = TrainingParams(),
    on_iteration: Callable[[int, int], None] | None = None,
    *,
    arrears: ArrearsAssessment | None = None,
    anchors: Sequence[tuple[float, int]] = DEFAULT_ANCHORS,
) -> TrainedModel:
    """Fit the pre-delinquency model: CatBoost with early stopping on a customer-disjoint
    validation split, calibrated on it, and, where the as-of dates allow, the latest 20% of
    them kept out of time. Only points where the customer is current are used (rows whose
    features show an amount past due are dropped and counted: they are the arrears track's).
    The risk-rank score scale is fitted on the calibrated probabilities of the in-time rows;
    ``arrears`` (the roll-rate table) rides along into the metadata."""
    from catboost import CatBoostClassifier, Pool

    current = ~in_arrears(dataset.features)
    dropped = int(len(current) - current.sum())
    kept = np.flatnonzero(current)  # rows of the caller's dataset (TrainedModel.rows)
    if dropped:
        dataset = dataset.subset(kept)
    if not len(dataset.labels):
        raise TrainingError("every labelled point is in arrears: the pre-delinquency model "
                            "learns from points where the customer is current")
    y = dataset.labels
    if int(y.sum()) == 0:
        raise TrainingError("the labels contain no positive (label=1) row: nothing to learn")
    if int(y.sum()) == len(y):
        raise TrainingError("the labels contain no negative (label=0) row: nothing to learn")
    in_validation = np.array([_in_validation(c, params.validation_share)
                              for c in dataset.customers])
    cutoff = _out_of_time_cutoff(dataset.as_of, params.out_of_time_share)
    in_time = (dataset.as_of < cutoff) if cutoff is not None else np.ones(len(y), dtype=bool)
    if cutoff is not None and (y[in_time].sum() == 0 or y[~in_time].sum() == 0):
        cutoff, in_time = None, np.ones(len(y), dtype=bool)  # too few positives to split
    train_idx = np.flatnonzero(~in_validation & in_time)
    valid_idx = np.flatnonzero(in_validation & in_time)
    oot_idx = np.flatnonzero(~in_time)
    if y[valid_idx].sum() == 0 or y[train_idx].sum() == 0:
        raise TrainingError(
            "too few positives to split customers into training and validation; "
            "add labelled customers or lower validation_share"
        )
    names = list(FEATURE_NAMES)
    train_pool = Pool(dataset.features[train_idx], y[train_idx], feature_names=names)
    valid_pool = Pool(dataset.features[valid_idx], y[valid_idx], feature_names=names)

    class _Progress:
        def after_iteration(self, info: Any) -> bool:
            if on_iteration is not None:
                on_iteration(int(info.iteration), params.iterations)
            return True

    model = CatBoostClassifier(
        iterations=params.iterations,
        depth=params.depth,
        learning_rate=params.learning_rate,
        l2_leaf_reg=params.l2_leaf_reg,
        loss_function="Logloss",
        eval_metric="Logloss",
        custom_metric=["AUC"],
        random_seed=params.seed,
        thread_count=params.thread_count,
        od_type="Iter",
        od_wait=params.early_stopping_rounds if params.use_best_model else params.iterations,
        use_best_model=params.use_best_model,
        allow_writing_files=False,
        verbose=False,
    )
    model.fit(train_pool, eval_set=valid_pool, callbacks=[_Progress()])

    def raw(idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        values: npt.NDArray[np.float64] = model.predict(
            dataset.features[idx], prediction_type="RawFormulaVal")
        return values

    calibration = fit_platt(raw(valid_idx), y[valid_idx])
    metrics = {
        "train": classification_metrics(y[train_idx], calibration.apply(raw(train_idx))),
        "validation": classification_metrics(y[valid_idx], calibration.apply(raw(valid_idx))),
    }
    if len(oot_idx):
        metrics["out_of_time"] = classification_metrics(y[oot_idx],
                                                        calibration.apply(raw(oot_idx)))
    split = {
        "validation": "customers whose id hashes into the validation share",
        "validation_share": params.validation_share,
        "out_of_time_from": cutoff,
        "rows": {"train": len(train_idx), "validation": len(valid_idx),
                 "out_of_time": len(oot_idx)},
        "arrears_rows_dropped": dropped,
    }
    in_time_idx = np.concatenate([train_idx, valid_idx])
    scale = fit_risk_rank_scale(calibration.apply(raw(in_time_idx)), anchors)
    in_time_scores = scale.scores(calibration.apply(raw(in_time_idx)))
    baseline = build_baseline(in_time_scores, dataset.features[in_time_idx], names,
                              np.asarray(model.get_feature_importance(), dtype=np.float64))
    return TrainedModel(model, params, metrics, int(model.get_best_iteration() or 0),
                        dataset.fingerprint(), calibration, split,
                        {"train": kept[train_idx], "validation": kept[valid_idx],
                         "out_of_time": kept[oot_idx]},
                        baseline, scale, arrears or ArrearsAssessment.prior())


def fit_contact_scale(
    trained: TrainedModel,
    dataset: Dataset,
    records: Iterable[dict[str, Any]],
    *,
    customers: Iterable[str] | None = None,
    anchors: Sequence[tuple[float, int]] = DEFAULT_ANCHORS,
    min_history_days: float = 90.0,
) -> TrainedModel:
    """Refit the score scale on what the stream would publish: replay ``records`` (the
    training events) as the worker scores them, for ``customers`` (default: the validation
    customers, never trained on), and take each customer's highest pre-delinquency
    probability in every 30-day period, from ``min_history_days`` of history on (as a bank
    scores customers it has known for a while, and as the evaluation's warm-up counts). An
    anchor ``(share, score)`` then says which share of current customer-months reach the
    score: the contacts per customer per month that a threshold at that score makes, on the
    training population."""
    import dataclasses

    from stream_app.offline import replay_events

    chosen = (set(customers) if customers is not None
              else {dataset.customers[int(i)] for i in trained.rows["validation"]})
    forest = forest_from_catboost(trained.model)
    period_ms = 30 * 86_400_000
    maxima: dict[tuple[str, int], float] = {}
    keys: list[tuple[str, int]] = []
    vectors: list[list[float]] = []

    def flush() -> None:
        if not vectors:
            return
        matrix = np.asarray(vectors, dtype=np.float64)
        probabilities = trained.calibration.apply(forest.raw_scores(forest.leaf_indexes(matrix)))
        for key, p, arrears in zip(keys, probabilities, in_arrears(matrix), strict=True):
            if not arrears and p > maxima.get(key, -1.0):
                maxima[key] = float(p)
        keys.clear()
        vectors.clear()

    history = FEATURE_NAMES.index("history_days")
    for row in replay_events(r for r in records if r.get("customer_id") in chosen):
        if row.vector[history] < min_history_days:
            continue
        keys.append((row.customer_id, row.as_of // period_ms))
        vectors.append(row.vector)
        if len(vectors) >= 8192:
            flush()
    flush()
    if len(maxima) < 2:
        return trained  # too little to fit on: keep the labelled points' scale
    scale = fit_risk_rank_scale(np.asarray(list(maxima.values())), anchors)
    in_time = np.concatenate([trained.rows["train"], trained.rows["validation"]])
    raw = trained.model.predict(dataset.features[in_time], prediction_type="RawFormulaVal")
    baseline = build_baseline(scale.scores(trained.calibration.apply(raw)),
                              dataset.features[in_time], list(FEATURE_NAMES),
                              np.asarray(trained.model.get_feature_importance(),
                                         dtype=np.float64))
    split = {**trained.split, "score_scale_population": (
        f"{len(maxima):,} customer-months of {len(chosen):,} customers' stream scores")}
    return dataclasses.replace(trained, scale=dataclasses.replace(scale, unit="customer-months"),
                               baseline=baseline, split=split)


def model_fingerprint(model: Any) -> str:
    """sha256 of the trees (splits, borders, leaf values): equal models, equal fingerprints."""
    forest = forest_from_catboost(model)
    digest = hashlib.sha256()
    for array in (forest.split_features, forest.split_borders, forest.leaf_values,
                  forest.depths):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(f"{forest.scale}:{forest.bias}".encode())
    return digest.hexdigest()


def version_metadata(
    trained: TrainedModel,
    *,
    extra_metadata: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """The version name ``<date>-<fingerprint>`` and the metadata that
    :func:`save_trained_model` writes for the same arguments (so that a report can name the
    version before it is saved)."""
    import catboost

    fingerprint = model_fingerprint(trained.model)
    created = now or dt.datetime.now(dt.UTC)
    version = f"{created:%Y%m%d}-{fingerprint[:10]}"
    metadata: dict[str, Any] = {
        "created_at": created.isoformat(timespec="seconds"),
        "model_fingerprint": fingerprint,
        "feature_names": list(FEATURE_NAMES),
        "feature_code_sha256": FEATURE_CODE_SHA256,
        "training_data_sha256": trained.dataset_fingerprint,
        "params": asdict(trained.params),
        "best_iteration": trained.best_iteration,
        "metrics": trained.metrics,
        "calibration": trained.calibration.to_metadata(),
        "track": "PRE_DELINQUENCY",
        "score_scale": trained.scale.to_metadata() if trained.scale is not None else None,
        "arrears_assessment": trained.arrears.to_metadata(),
        "split": trained.split,
        "baseline": trained.baseline,
        "catboost_version": catboost.__version__,
    }
    metadata.update(extra_metadata or {})
    return version, {**metadata, "version": version}


def save_trained_model(
    registry_dir: Path,
    trained: TrainedModel,
    *,
    extra_metadata: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
    now: dt.datetime | None = None,
) -> ModelVersion:
    """Write the trained model as a new registry version named ``<date>-<fingerprint>``;
    ``extra_files`` (relative path -> content, e.g. the evaluation report) go beside it,
    covered by the version's checksums."""
    version, metadata = version_metadata(trained, extra_metadata=extra_metadata, now=now)
    return write_version(
        registry_dir,
        version,
        lambda path: trained.model.save_model(str(path)),
        metadata,
        extra_files=extra_files,
    )

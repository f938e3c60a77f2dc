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
from stream_app.features import FEATURE_CODE_SHA256, FEATURE_NAMES
from stream_app.offline import AsOf, ReplayStats, replay_points
from stream_app.scoring import PlattCalibration, build_baseline, fit_platt, forest_from_catboost

from ._metrics import classification_metrics

__all__ = [
    "Dataset",
    "TrainedModel",
    "TrainingError",
    "TrainingParams",
    "build_dataset",
    "model_fingerprint",
    "save_trained_model",
    "train_model",
    "version_metadata",
]


class TrainingError(ValueError):
    """Inputs that cannot produce a model; the message says what to fix."""


@dataclass(frozen=True)
class TrainingParams:
    iterations: int = 400
    depth: int = 6
    learning_rate: float = 0.08
    l2_leaf_reg: float = 3.0
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
    # dataset row indexes of each part: "train", "validation", "out_of_time"
    rows: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    # training distribution of the score and the top features (for drift monitoring)
    baseline: dict[str, Any] = field(default_factory=dict)


def build_dataset(
    records: Iterable[dict[str, Any]],
    labels: Sequence[AsOf],
    stats: ReplayStats | None = None,
) -> Dataset:
    """Point-in-time features for each labelled point (objects with customer_id, as_of, label)."""
    rows: list[list[float]] = []
    targets: list[int] = []
    customers: list[str] = []
    as_of: list[int] = []
    for point, vector in replay_points(records, labels, stats):
        rows.append(vector)
        targets.append(int(getattr(point, "label")))  # noqa: B009 - AsOf has no label field
        customers.append(point.customer_id)
        as_of.append(point.as_of)
    if not rows:
        raise TrainingError("no labelled points: the label file is empty")
    return Dataset(
        np.asarray(rows, dtype=np.float64),
        np.asarray(targets, dtype=np.int64),
        customers,
        np.asarray(as_of, dtype=np.int64),
    )


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
) -> TrainedModel:
    """Fit CatBoost with early stopping on a customer-disjoint validation split, calibrate
    on it, and, where the as-of dates allow, keep the latest 20% of them out of time."""
    from catboost import CatBoostClassifier, Pool

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
    }
    in_time_idx = np.concatenate([train_idx, valid_idx])
    in_time_scores = np.floor(calibration.apply(raw(in_time_idx)) * 100 + 0.5).astype(np.int64)
    baseline = build_baseline(in_time_scores, dataset.features[in_time_idx], names,
                              np.asarray(model.get_feature_importance(), dtype=np.float64))
    return TrainedModel(model, params, metrics, int(model.get_best_iteration() or 0),
                        dataset.fingerprint(), calibration, split,
                        {"train": train_idx, "validation": valid_idx, "out_of_time": oot_idx},
                        baseline)


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

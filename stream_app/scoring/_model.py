"""A loaded, verified model that scores and explains batches of feature vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model_registry import ModelVersion, RegistryError, read_version
from stream_app.events import Reason
from stream_app.features import FEATURE_CODE_SHA256, FEATURE_NAMES, feature_index, in_arrears

from ._arrears import ArrearsAssessment, hardship
from ._calibration import PlattCalibration
from ._reasons import arrears_reasons, top_reasons
from ._scale import ScoreScale
from ._trees import ObliviousForest, build_leaf_shap_table, forest_from_catboost

__all__ = ["IncompatibleModelError", "ScoredBatch", "ScoringModel", "probability_to_score"]

_CHUNK = 128  # rows per SHAP gather: keeps the gathered block in cache


def _first_difference(model: object, code: list[str]) -> str:
    if not isinstance(model, list):
        return "the model's metadata has no feature list"
    for i, (a, b) in enumerate(zip(model, code, strict=False)):
        if a != b:
            return f"column {i}: model {a!r}, code {b!r}"
    return f"model has {len(model)} features, code {len(code)}"


class IncompatibleModelError(RegistryError):
    """The model was trained on another feature list than the running feature code computes."""


def probability_to_score(probability: float) -> int:
    return math.floor(probability * 100 + 0.5)


_DPD = feature_index("dpd_current")


@dataclass(frozen=True)
class ScoredBatch:
    """Scores of a batch of feature vectors, each on its track.

    Pre-delinquency rows (``arrears`` False): ``probabilities`` is the calibrated probability
    of reaching 30 days past due within the label horizon and ``scores`` its risk rank on the
    model's score scale. Arrears rows: ``probabilities`` is the roll probability and
    ``scores`` ``round(100 * roll)``. ``contributions`` are the pre-delinquency model's exact
    SHAP values (log-odds) of every row; ``pre_probabilities`` its probability of every row.
    """

    probabilities: npt.NDArray[np.float64]  # (n,)
    scores: npt.NDArray[np.int64]  # (n,) 0-100
    contributions: npt.NDArray[np.float64]  # (n, F) exact SHAP values, log-odds
    arrears: npt.NDArray[np.bool_]  # (n,) on the arrears track
    roll: npt.NDArray[np.float64]  # (n,) roll probability, NaN on the pre-delinquency track
    cure: npt.NDArray[np.float64]  # (n,) cure probability, NaN on the pre-delinquency track
    days_past_due: npt.NDArray[np.int64]  # (n,) worst reported days past due
    pre_probabilities: npt.NDArray[np.float64]  # (n,) the pre-delinquency model's probability
    hardship: npt.NDArray[np.bool_]  # (n,) income lost or cut (the arrears segment)

    @property
    def tracks(self) -> list[str]:
        return ["ARREARS" if a else "PRE_DELINQUENCY" for a in self.arrears]


class ScoringModel:
    """CatBoost trees + their per-leaf SHAP table, evaluated with numpy.

    Loading verifies checksums, the feature list, and that the numpy evaluation reproduces
    CatBoost's own predictions on probe rows; any failure refuses the model. CatBoost loads
    the model from the bytes whose checksum was verified, never from a second read of the file.
    """

    def __init__(self, version: ModelVersion, catboost_model: Any) -> None:
        self.version = version.version
        self.metadata = version.metadata
        self.path = version.path
        self.forest: ObliviousForest = forest_from_catboost(catboost_model)
        if self.forest.n_features != len(FEATURE_NAMES):
            raise IncompatibleModelError(
                f"model {self.version} has {self.forest.n_features} features, "
                f"the feature code computes {len(FEATURE_NAMES)}"
            )
        self.calibration = PlattCalibration.from_metadata(version.metadata.get("calibration"))
        self.scale = ScoreScale.from_metadata(version.metadata.get("score_scale"))
        self.arrears = ArrearsAssessment.from_metadata(
            version.metadata.get("arrears_assessment"))
        table, self.expected_value = build_leaf_shap_table(catboost_model, self.forest)
        self._flat_table = table.reshape(-1, self.forest.n_features)
        self._offsets = (np.arange(self.forest.n_trees) * table.shape[1])[None, :]
        self._self_check(catboost_model)

    @classmethod
    def load(cls, path: Path | str) -> ScoringModel:
        from catboost import CatBoostClassifier

        verified = read_version(Path(path))  # the bytes hashed are the bytes loaded
        version = verified.version
        names = version.metadata.get("feature_names")
        if names != list(FEATURE_NAMES):
            raise IncompatibleModelError(
                f"model {version.version} was trained on another feature list than the running "
                f"feature code computes ({_first_difference(names, list(FEATURE_NAMES))}). "
                "Retrain with this code.")
        model = CatBoostClassifier()
        try:
            model.load_model(blob=verified.model_bytes)
        except Exception as exc:  # CatBoostError on a damaged file
            raise RegistryError(f"CatBoost could not load {version.model_file}: {exc}") from None
        return cls(version, model)

    @property
    def feature_code_matches(self) -> bool:
        return self.metadata.get("feature_code_sha256") == FEATURE_CODE_SHA256

    def _self_check(self, catboost_model: Any) -> None:
        rng = np.random.default_rng(0)
        probe = rng.normal(0, 1e4, size=(64, self.forest.n_features))
        probe[::2] = np.abs(probe[::2]) / 1e4
        ours = self.forest.raw_scores(self.forest.leaf_indexes(probe))
        theirs = catboost_model.predict(probe.astype(np.float32), prediction_type="RawFormulaVal")
        if not np.allclose(ours, theirs, rtol=0, atol=1e-9):
            raise IncompatibleModelError(
                f"model {self.version}: tree evaluation does not reproduce CatBoost's predictions"
            )

    def score(self, features: npt.NDArray[np.float64]) -> ScoredBatch:
        leaves = self.forest.leaf_indexes(features)
        raw = self.forest.raw_scores(leaves)
        pre = self.calibration.apply(raw)
        flat = leaves + self._offsets
        contributions = np.empty((features.shape[0], self.forest.n_features))
        for start in range(0, features.shape[0], _CHUNK):
            block = flat[start : start + _CHUNK]
            contributions[start : start + _CHUNK] = self._flat_table[block].sum(axis=1)
        arrears = in_arrears(features)
        scores = self.scale.scores(pre)
        probabilities = pre
        nan = np.full(features.shape[0], np.nan)
        roll, cure = nan, nan.copy()
        if arrears.any():
            rolled, cured, _ = self.arrears.assess(features)
            roll = np.where(arrears, rolled, np.nan)
            cure = np.where(arrears, cured, np.nan)
            probabilities = np.where(arrears, rolled, pre)
            scores = np.where(arrears, np.floor(rolled * 100 + 0.5).astype(np.int64), scores)
        return ScoredBatch(probabilities, scores, contributions, arrears, roll, cure,
                           features[:, _DPD].astype(np.int64), pre, hardship(features))

    def reasons(self, scored: ScoredBatch,
                features: npt.NDArray[np.float64]) -> list[tuple[Reason, ...]]:
        """The reasons of every row: SHAP leading signals on the pre-delinquency track, the
        arrears assessment's on the arrears track."""
        result = top_reasons(scored.contributions, features)
        rows = np.flatnonzero(scored.arrears)
        if len(rows):
            for row, reasons in zip(rows, arrears_reasons(self.arrears, features[rows]),
                                    strict=True):
                result[int(row)] = reasons
        return result

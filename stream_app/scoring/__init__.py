"""Scoring: verified CatBoost models evaluated in batches, exact SHAP reason codes, bands."""

from ._bands import DEFAULT_BANDS, BandCutoffs
from ._calibration import PlattCalibration, fit_platt
from ._model import IncompatibleModelError, ScoredBatch, ScoringModel, probability_to_score
from ._reasons import MAX_REASONS, top_reasons
from ._trees import ObliviousForest, build_leaf_shap_table, forest_from_catboost

__all__ = [
    "DEFAULT_BANDS",
    "MAX_REASONS",
    "BandCutoffs",
    "IncompatibleModelError",
    "ObliviousForest",
    "PlattCalibration",
    "ScoredBatch",
    "ScoringModel",
    "build_leaf_shap_table",
    "fit_platt",
    "forest_from_catboost",
    "probability_to_score",
    "top_reasons",
]

"""Scoring: verified CatBoost models evaluated in batches, exact SHAP reason codes, bands."""

from ._arrears import (
    BUCKETS,
    ArrearsAssessment,
    ArrearsPoint,
    arrears_points,
    bucket_of,
    fit_arrears_assessment,
    hardship,
)
from ._bands import DEFAULT_BANDS, Band, BandCutoffs
from ._calibration import PlattCalibration, fit_platt
from ._drift import SCORE_EDGES, DriftMonitor, build_baseline, psi
from ._model import IncompatibleModelError, ScoredBatch, ScoringModel, probability_to_score
from ._reasons import MAX_REASONS, arrears_reasons, top_reasons
from ._scale import (
    DEFAULT_ANCHORS,
    ProbabilityScale,
    RiskRankScale,
    ScoreScale,
    fit_risk_rank_scale,
)
from ._trees import ObliviousForest, build_leaf_shap_table, forest_from_catboost

__all__ = [
    "BUCKETS",
    "DEFAULT_ANCHORS",
    "DEFAULT_BANDS",
    "MAX_REASONS",
    "SCORE_EDGES",
    "ArrearsAssessment",
    "ArrearsPoint",
    "Band",
    "BandCutoffs",
    "DriftMonitor",
    "IncompatibleModelError",
    "ObliviousForest",
    "PlattCalibration",
    "ProbabilityScale",
    "RiskRankScale",
    "ScoreScale",
    "ScoredBatch",
    "ScoringModel",
    "arrears_points",
    "arrears_reasons",
    "bucket_of",
    "build_baseline",
    "build_leaf_shap_table",
    "fit_arrears_assessment",
    "fit_platt",
    "fit_risk_rank_scale",
    "forest_from_catboost",
    "hardship",
    "probability_to_score",
    "psi",
    "top_reasons",
]

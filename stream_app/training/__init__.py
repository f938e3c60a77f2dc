"""Offline training and evaluation on replayed event logs.

The report writer (``stream_app.training._report``) is not imported here: it needs matplotlib,
which the training and evaluation code do not.
"""

from ._capture import (
    CaptureCurve,
    CapturePoint,
    CaptureReport,
    DpdHistory,
    Outcome,
    ScoreHistory,
    capture_at,
    capture_report,
    score_history,
)
from ._evaluate import (
    CalibrationBin,
    Curve,
    Evaluation,
    EvaluationError,
    ReasonCount,
    calibration_table,
    evaluate_model,
    precision_recall_curve,
    reason_frequency,
    roc_curve,
)
from ._metrics import classification_metrics, pr_auc, roc_auc
from ._train import (
    Dataset,
    TrainedModel,
    TrainingError,
    TrainingParams,
    build_dataset,
    build_training_data,
    fit_contact_scale,
    model_fingerprint,
    save_trained_model,
    train_model,
    version_metadata,
)

__all__ = [
    "CalibrationBin",
    "CaptureCurve",
    "CapturePoint",
    "CaptureReport",
    "Curve",
    "Dataset",
    "DpdHistory",
    "Evaluation",
    "EvaluationError",
    "Outcome",
    "ReasonCount",
    "ScoreHistory",
    "TrainedModel",
    "TrainingError",
    "TrainingParams",
    "build_dataset",
    "build_training_data",
    "calibration_table",
    "capture_at",
    "capture_report",
    "classification_metrics",
    "evaluate_model",
    "fit_contact_scale",
    "model_fingerprint",
    "pr_auc",
    "precision_recall_curve",
    "reason_frequency",
    "roc_auc",
    "roc_curve",
    "save_trained_model",
    "score_history",
    "train_model",
    "version_metadata",
]

"""Offline training and evaluation on replayed event logs.

The report writer (``stream_app.training._report``) is not imported here: it needs matplotlib,
which the training and evaluation code do not.
"""

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
from ._lead_time import (
    Detection,
    LeadTimes,
    ScoreHistory,
    detection_at,
    false_alarm_threshold,
    lead_times,
    score_history,
)
from ._metrics import classification_metrics, pr_auc, roc_auc
from ._train import (
    Dataset,
    TrainedModel,
    TrainingError,
    TrainingParams,
    build_dataset,
    model_fingerprint,
    save_trained_model,
    train_model,
    version_metadata,
)

__all__ = [
    "CalibrationBin",
    "Curve",
    "Dataset",
    "Detection",
    "Evaluation",
    "EvaluationError",
    "LeadTimes",
    "ReasonCount",
    "ScoreHistory",
    "TrainedModel",
    "TrainingError",
    "TrainingParams",
    "build_dataset",
    "calibration_table",
    "classification_metrics",
    "detection_at",
    "evaluate_model",
    "false_alarm_threshold",
    "lead_times",
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

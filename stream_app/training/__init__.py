"""Offline training and evaluation on replayed event logs."""

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
)

__all__ = [
    "Dataset",
    "TrainedModel",
    "TrainingError",
    "TrainingParams",
    "build_dataset",
    "classification_metrics",
    "model_fingerprint",
    "pr_auc",
    "roc_auc",
    "save_trained_model",
    "train_model",
]

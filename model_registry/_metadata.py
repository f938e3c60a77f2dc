"""Reading figures out of a version's metadata (written by ``predelinq train``/``retrain``)."""

from __future__ import annotations

from typing import Any

__all__ = ["validation_auc"]


def validation_auc(metadata: dict[str, Any]) -> float | None:
    """``metrics.validation.roc_auc`` when it is a number (NaN included), else ``None``."""
    metrics = metadata.get("metrics")
    validation = metrics.get("validation") if isinstance(metrics, dict) else None
    value = validation.get("roc_auc") if isinstance(validation, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)

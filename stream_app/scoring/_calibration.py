"""Probability calibration: Platt scaling of the model's raw log-odds (numpy only).

``p = sigmoid(a * raw + b)`` with ``(a, b)`` fitted by maximum likelihood on held-out rows.
Monotone, so rankings (ROC-AUC, reason codes on the raw scale) are unchanged; the published
score is ``round(100 * p)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PlattCalibration", "fit_platt"]


@dataclass(frozen=True)
class PlattCalibration:
    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(self.a * raw + self.b)))
        return out

    def to_metadata(self) -> dict[str, Any]:
        return {"method": "platt", "a": self.a, "b": self.b}

    @classmethod
    def from_metadata(cls, data: object) -> PlattCalibration:
        """Identity when a model carries no calibration (trained before it existed)."""
        if not isinstance(data, dict) or data.get("method") != "platt":
            return cls()
        return cls(float(data["a"]), float(data["b"]))


def fit_platt(raw: npt.NDArray[np.float64], labels: npt.NDArray[np.int64],
              iterations: int = 100) -> PlattCalibration:
    """Newton's method on the logistic log-likelihood, with Platt's smoothed targets
    (so that a separable validation set does not push the slope to infinity)."""
    positives = float(labels.sum())
    negatives = float(len(labels) - positives)
    target = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * raw + b)))
        w = np.maximum(p * (1 - p), 1e-12)
        grad_a = float(np.sum((p - target) * raw))
        grad_b = float(np.sum(p - target))
        h_aa = float(np.sum(w * raw * raw)) + 1e-9
        h_ab = float(np.sum(w * raw))
        h_bb = float(np.sum(w)) + 1e-9
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a = (h_bb * grad_a - h_ab * grad_b) / det
        step_b = (h_aa * grad_b - h_ab * grad_a) / det
        a, b = a - step_a, b - step_b
        if abs(step_a) < 1e-10 and abs(step_b) < 1e-10:
            break
    return PlattCalibration(a, b)

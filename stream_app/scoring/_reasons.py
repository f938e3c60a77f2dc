"""Reason codes: the features whose SHAP contribution raised a customer's risk the most."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stream_app.events import Reason
from stream_app.features import FEATURES

__all__ = ["MAX_REASONS", "top_reasons"]

MAX_REASONS = 3


def top_reasons(
    contributions: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    limit: int = MAX_REASONS,
) -> list[tuple[Reason, ...]]:
    """For each row, up to ``limit`` reasons, largest positive contribution first.

    Only risk-increasing contributions (> 0) are reasons; ties are broken by feature order so
    that the same row always gives the same reasons.
    """
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :limit]
    result: list[tuple[Reason, ...]] = []
    for row, columns in enumerate(order):
        reasons = []
        for column in columns:
            contribution = float(contributions[row, column])
            if contribution <= 0.0:
                break
            spec = FEATURES[column]
            reasons.append(Reason(spec.reason_code, spec.name, float(values[row, column]),
                                  contribution, spec.reason_text))
        result.append(tuple(reasons))
    return result

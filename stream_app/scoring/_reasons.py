"""Reason codes: the features whose SHAP contribution raised a customer's risk the most.

Pre-delinquency reasons are leading signals: a feature that describes an amount past due
today (``ARREARS_NOW``) is never one (a current customer has none, and a customer who has one
is on the arrears track, whose reasons come from :func:`arrears_reasons`). Texts say what
changed and by how much (:func:`stream_app.features.reason_text`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stream_app.events import Reason
from stream_app.features import ARREARS_NOW, FEATURES, feature_index, reason_text

from ._arrears import BUCKETS, ArrearsAssessment, hardship, logit

__all__ = ["MAX_REASONS", "arrears_reasons", "top_reasons"]

MAX_REASONS = 3
_ELIGIBLE = np.ones(len(FEATURES), dtype=bool)
_ELIGIBLE[list(ARREARS_NOW)] = False
_DPD = feature_index("dpd_current")
_PRODUCTS = feature_index("products_in_arrears")
_PAST_DUE = feature_index("amount_past_due_minor")
_INCOME_DROP = feature_index("income_drop_ratio")
_SALARY_MISSED = feature_index("salary_missed")


def top_reasons(
    contributions: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    limit: int = MAX_REASONS,
) -> list[tuple[Reason, ...]]:
    """For each row, up to ``limit`` reasons, largest positive contribution first.

    Only risk-increasing contributions (> 0) of eligible features are reasons; ties are
    broken by feature order so that the same row always gives the same reasons.
    """
    masked = np.where(_ELIGIBLE[None, :], contributions, 0.0)
    order = np.argsort(-masked, axis=1, kind="stable")[:, :limit]
    top = np.take_along_axis(masked, order, axis=1).tolist()
    finite: list[bool] = np.asarray(np.isfinite(values).all(axis=1)).tolist()
    result: list[tuple[Reason, ...]] = []
    for row, columns in enumerate(order.tolist()):
        reasons = []
        vector: list[float] | None = None
        for column, contribution in zip(columns, top[row], strict=True):
            if contribution <= 0.0:
                break
            if vector is None:
                vector = values[row].tolist()
            spec = FEATURES[column]
            reasons.append(Reason(spec.reason_code, spec.name, vector[column], contribution,
                                  reason_text(column, vector, finite=finite[row])))
        result.append(tuple(reasons))
    return result


def arrears_reasons(assessment: ArrearsAssessment,
                    values: npt.NDArray[np.float64]) -> list[tuple[Reason, ...]]:
    """Reasons of arrears-track rows: the bucket (its roll rate against the lowest bucket's,
    in log-odds), the unpaid amount, several products, and the hardship segment (its roll
    rate against the bucket's)."""
    roll, _, buckets = assessment.assess(values)
    struggling = hardship(values)
    base = logit(assessment.bucket_rate(0))
    result: list[tuple[Reason, ...]] = []
    for row in range(values.shape[0]):
        vector = values[row]
        bucket = int(buckets[row])
        bucket_logit = logit(assessment.bucket_rate(bucket))
        reasons = [Reason(FEATURES[_DPD].reason_code, FEATURES[_DPD].name, float(vector[_DPD]),
                          bucket_logit - base,
                          f"{reason_text(_DPD, vector)} (bucket {BUCKETS[bucket]}; rolls "
                          f"to the next bucket within 30 days with probability "
                          f"{roll[row]:.0%})")]
        if struggling[row]:
            column = _SALARY_MISSED if vector[_SALARY_MISSED] > 0 else _INCOME_DROP
            spec = FEATURES[column]
            reasons.append(Reason(spec.reason_code, spec.name, float(vector[column]),
                                  logit(float(roll[row])) - bucket_logit,
                                  reason_text(column, vector) + ": hardship assessment"))
        if vector[_PAST_DUE] > 0:
            spec = FEATURES[_PAST_DUE]
            reasons.append(Reason(spec.reason_code, spec.name, float(vector[_PAST_DUE]), 0.0,
                                  reason_text(_PAST_DUE, vector)))
        if vector[_PRODUCTS] > 1:
            spec = FEATURES[_PRODUCTS]
            reasons.append(Reason(spec.reason_code, spec.name, float(vector[_PRODUCTS]), 0.0,
                                  reason_text(_PRODUCTS, vector)))
        result.append(tuple(reasons[:MAX_REASONS]))
    return result

"""Evaluation of a loaded model on a labelled dataset (numpy only, no I/O).

Ranking and probability metrics (ROC-AUC, PR-AUC, KS, Brier, capture in the top 5% / 10%) come
from :mod:`._metrics`; this module adds the calibration table, the ROC and precision-recall
curves, and how often each reason code is among the top-3 reasons of the rows scored HIGH or
CRITICAL (the rows the stream would act on), from the model's exact SHAP contributions.
Only points where the customer is current are evaluated (the pre-delinquency model's
population; points in arrears are counted and left out). Capture while current, on data with
a days-past-due history, comes from :mod:`._capture` and rides along.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_app.features import FEATURES, in_arrears
from stream_app.scoring import DEFAULT_BANDS, MAX_REASONS, BandCutoffs, ScoringModel, top_reasons

from ._capture import CaptureReport
from ._metrics import classification_metrics
from ._train import Dataset

__all__ = [
    "CalibrationBin",
    "Curve",
    "Evaluation",
    "EvaluationError",
    "ReasonCount",
    "calibration_table",
    "evaluate_model",
    "precision_recall_curve",
    "reason_frequency",
    "roc_curve",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class EvaluationError(ValueError):
    """A dataset that cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class CalibrationBin:
    lower: float | None  # lowest and highest predicted probability in the bin
    upper: float | None
    count: int
    mean_predicted: float | None  # None for an empty bin (fewer rows than bins)
    observed_rate: float | None


@dataclass(frozen=True)
class ReasonCount:
    code: str
    text: str
    count: int  # flagged rows with this code among their top reasons
    share: float  # ... as a share of all flagged rows


@dataclass(frozen=True)
class Curve:
    x: Floats  # ROC: false-positive rate; precision-recall: recall
    y: Floats  # ROC: true-positive rate; precision-recall: precision


@dataclass(frozen=True)
class Evaluation:
    model_version: str
    metrics: dict[str, float]  # classification_metrics of the rows
    calibration: tuple[CalibrationBin, ...]
    flagged_rows: int  # rows scored HIGH or CRITICAL
    reasons: tuple[ReasonCount, ...]  # most frequent first
    roc: Curve
    precision_recall: Curve
    bands: BandCutoffs = DEFAULT_BANDS
    capture: CaptureReport | None = None
    arrears_rows_left_out: int = 0

    def with_capture(self, capture: CaptureReport) -> Evaluation:
        return dataclasses.replace(self, capture=capture)


def calibration_table(labels: Ints, probabilities: Floats, bins: int = 10) -> list[CalibrationBin]:
    """Rows sorted by predicted probability and cut into ``bins`` bins of equal size (sizes
    differ by at most one; deciles for 10): rows, probability range, mean prediction and
    observed rate of each, lowest predictions first.

    Equal-size rather than equal-width bins: at a base rate of a few percent nearly every
    row would fall into the first tenth of the probability range.
    """
    order = np.argsort(probabilities, kind="mergesort")
    table: list[CalibrationBin] = []
    for members in np.array_split(order, bins):
        if len(members) == 0:
            table.append(CalibrationBin(None, None, 0, None, None))
            continue
        predicted = probabilities[members]
        table.append(CalibrationBin(float(predicted.min()), float(predicted.max()),
                                    len(members), float(predicted.mean()),
                                    float(labels[members].mean())))
    return table


def _ranked_counts(labels: Ints, probabilities: Floats) -> tuple[Floats, Floats]:
    """Cumulative true and false positives at each distinct threshold, highest first."""
    order = np.argsort(-probabilities, kind="mergesort")
    hits = labels[order].astype(np.float64)
    ranked = probabilities[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]
    true_positives = np.cumsum(hits)[last_of_tie]
    false_positives = np.cumsum(1.0 - hits)[last_of_tie]
    return true_positives, false_positives


def roc_curve(labels: Ints, probabilities: Floats) -> Curve:
    """(false-positive rate, true-positive rate) from (0, 0) to (1, 1); ties are one step."""
    tp, fp = _ranked_counts(labels, probabilities)
    positives, negatives = max(tp[-1], 1.0), max(fp[-1], 1.0)
    return Curve(np.r_[0.0, fp / negatives], np.r_[0.0, tp / positives])


def precision_recall_curve(labels: Ints, probabilities: Floats) -> Curve:
    """(recall, precision) at each distinct threshold, starting at (0, 1)."""
    tp, fp = _ranked_counts(labels, probabilities)
    positives = max(tp[-1], 1.0)
    return Curve(np.r_[0.0, tp / positives], np.r_[1.0, tp / (tp + fp)])


def reason_frequency(
    contributions: Floats,
    values: Floats,
    scores: Ints,
    bands: BandCutoffs = DEFAULT_BANDS,
    limit: int = MAX_REASONS,
) -> tuple[int, list[ReasonCount]]:
    """``(flagged rows, counts)``: among rows scored HIGH or CRITICAL (score at or above the
    HIGH cut-off), how often each reason code is one of the row's top ``limit`` reasons.
    Codes that never appear are left out; the most frequent come first."""
    flagged = np.flatnonzero(scores >= bands.high)  # HIGH and CRITICAL: score >= high
    counts: Counter[str] = Counter()
    for reasons in top_reasons(contributions[flagged], values[flagged], limit):
        counts.update(reason.code for reason in reasons)
    texts = {spec.reason_code: spec.reason_text for spec in FEATURES}
    total = len(flagged)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return total, [ReasonCount(code, texts[code], count, count / total)
                   for code, count in ranked]


def evaluate_model(
    model: ScoringModel,
    dataset: Dataset,
    *,
    bands: BandCutoffs = DEFAULT_BANDS,
    calibration_bins: int = 10,
) -> Evaluation:
    """Score every current row and evaluate; refuses labels without both classes."""
    current = ~in_arrears(dataset.features)
    left_out = int(len(current) - current.sum())
    if left_out:
        dataset = dataset.subset(np.flatnonzero(current))
    labels = dataset.labels
    positives = int(labels.sum())
    if len(labels) == 0:
        raise EvaluationError("every labelled point is in arrears: the pre-delinquency model "
                              "is evaluated on points where the customer is current")
    if positives == 0:
        raise EvaluationError("the labels contain no positive (label=1) row: ROC-AUC, PR-AUC, "
                              "KS and capture rates need positives and negatives")
    if positives == len(labels):
        raise EvaluationError("the labels contain no negative (label=0) row: ROC-AUC, PR-AUC, "
                              "KS and capture rates need positives and negatives")
    scored = model.score(dataset.features)
    flagged, reasons = reason_frequency(scored.contributions, dataset.features, scored.scores,
                                        bands)
    return Evaluation(
        model_version=model.version,
        metrics=classification_metrics(labels, scored.probabilities),
        calibration=tuple(calibration_table(labels, scored.probabilities, calibration_bins)),
        flagged_rows=flagged,
        reasons=tuple(reasons),
        roc=roc_curve(labels, scored.probabilities),
        precision_recall=precision_recall_curve(labels, scored.probabilities),
        bands=bands,
        arrears_rows_left_out=left_out,
    )

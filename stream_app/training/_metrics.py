"""Binary classification metrics (numpy only): ROC-AUC, PR-AUC, KS, Brier, top-k capture."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["classification_metrics", "pr_auc", "roc_auc"]

Floats = npt.NDArray[np.float64]


def roc_auc(y: npt.NDArray[np.int64], p: Floats) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def pr_auc(y: npt.NDArray[np.int64], p: Floats) -> float:
    """Average precision (area under the precision-recall curve, step-wise)."""
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    hits = y[order]
    cumulative = np.cumsum(hits)
    precision = cumulative / np.arange(1, len(y) + 1)
    return float((precision * hits).sum() / positives)


def ks_statistic(y: npt.NDArray[np.int64], p: Floats) -> float:
    order = np.argsort(-p, kind="mergesort")
    hits = y[order]
    positives = hits.sum()
    negatives = len(hits) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    tpr = np.cumsum(hits) / positives
    fpr = np.cumsum(1 - hits) / negatives
    return float(np.max(np.abs(tpr - fpr)))


def capture_rate(y: npt.NDArray[np.int64], p: Floats, top_share: float) -> float:
    """Share of all positives found among the ``top_share`` highest scores."""
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    count = max(1, round(len(p) * top_share))
    order = np.argsort(-p, kind="mergesort")[:count]
    return float(y[order].sum() / positives)


def classification_metrics(y: npt.NDArray[np.int64], p: Floats) -> dict[str, float]:
    return {
        "rows": float(len(y)),
        "positives": float(y.sum()),
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "ks": ks_statistic(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "capture_top5pct": capture_rate(y, p, 0.05),
        "capture_top10pct": capture_rate(y, p, 0.10),
    }

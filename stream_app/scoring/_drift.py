"""Drift: population stability index (PSI) of the score and the top features (pure).

At training time ``build_baseline`` bins the calibrated scores (fixed score bins) and the
model's most important features (decile edges of the training values) and records each bin's
share. In the worker, ``DriftMonitor`` keeps the bins of the last ``window`` scored rows in a
ring buffer and computes, per subject, ``PSI = sum((a - e) * ln(a / e))`` over bins, with
``a`` the recent share and ``e`` the baseline share (both floored at 1e-4). Rules of thumb:
below 0.1 stable, 0.1-0.2 moderate shift, above 0.2 significant (the alert threshold).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SCORE_EDGES", "DriftMonitor", "build_baseline", "psi"]

SCORE_EDGES = [1, 2, 5, 10, 20, 30, 40, 60, 80]  # inner edges of the score bins (0-100)
TOP_FEATURES = 5
_FLOOR = 1e-4


def psi(actual: npt.NDArray[np.float64], expected: npt.NDArray[np.float64]) -> float:
    a = np.maximum(actual, _FLOOR)
    e = np.maximum(expected, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(bins: npt.NDArray[np.int64], count: int) -> list[float]:
    histogram = np.bincount(bins, minlength=count).astype(np.float64)
    return [float(v) for v in histogram / max(1.0, histogram.sum())]


def build_baseline(scores: npt.NDArray[np.int64], features: npt.NDArray[np.float64],
                   names: list[str], importances: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The training distribution of the score and the ``TOP_FEATURES`` most important
    features, as stored in a model version's metadata under ``baseline``."""
    score_bins = np.searchsorted(SCORE_EDGES, scores, side="right")
    baseline: dict[str, Any] = {
        "score": {"edges": SCORE_EDGES, "shares": _shares(score_bins, len(SCORE_EDGES) + 1)},
        "features": {},
    }
    for column in np.argsort(-importances, kind="stable")[:TOP_FEATURES]:
        values = features[:, column]
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)[1:-1])).tolist()
        bins = np.searchsorted(edges, values, side="right")
        baseline["features"][names[column]] = {
            "column": int(column), "edges": edges, "shares": _shares(bins, len(edges) + 1)}
    return baseline


class DriftMonitor:
    """PSI of recent scores and features against one model's training baseline."""

    def __init__(self, version: str, baseline: dict[str, Any], window: int = 10_000) -> None:
        self.version = version
        self.window = window
        subjects: list[tuple[str, int | None, list[float], list[float]]] = [
            ("score", None, list(baseline["score"]["edges"]), list(baseline["score"]["shares"]))]
        for name, spec in baseline.get("features", {}).items():
            subjects.append((f"feature:{name}", int(spec["column"]), list(spec["edges"]),
                             list(spec["shares"])))
        self.subjects = [s[0] for s in subjects]
        self._columns = [s[1] for s in subjects]
        self._edges = [np.asarray(s[2], dtype=np.float64) for s in subjects]
        self._expected = [np.asarray(s[3], dtype=np.float64) for s in subjects]
        width = max(len(e) for e in self._expected)
        self._counts = np.zeros((len(subjects), width), dtype=np.int64)
        self._ring = np.zeros((window, len(subjects)), dtype=np.int16)
        self._filled = 0
        self._cursor = 0

    @classmethod
    def from_metadata(cls, version: str, metadata: dict[str, Any],
                      window: int = 10_000) -> DriftMonitor | None:
        baseline = metadata.get("baseline")
        if not isinstance(baseline, dict) or "score" not in baseline:
            return None  # a model trained before baselines were recorded
        return cls(version, baseline, window)

    def observe(self, scores: npt.NDArray[np.int64], features: npt.NDArray[np.float64]) -> None:
        rows = len(scores)
        if rows == 0:
            return
        bins = np.empty((rows, len(self.subjects)), dtype=np.int16)
        for s, (column, edges) in enumerate(zip(self._columns, self._edges, strict=True)):
            values = scores if column is None else features[:, column]
            bins[:, s] = np.searchsorted(edges, values, side="right")
        if rows > self.window:
            bins = bins[-self.window:]
            rows = self.window
        positions = (self._cursor + np.arange(rows)) % self.window
        subject_index = np.arange(len(self.subjects))
        replaced = positions[positions < self._filled] if self._filled < self.window \
            else positions
        if len(replaced):
            old = self._ring[replaced]
            np.add.at(self._counts, (np.broadcast_to(subject_index, old.shape), old), -1)
        self._ring[positions] = bins
        np.add.at(self._counts, (np.broadcast_to(subject_index, bins.shape), bins), 1)
        self._cursor = int((self._cursor + rows) % self.window)
        self._filled = min(self.window, self._filled + rows)

    @property
    def observed(self) -> int:
        return self._filled

    def psi(self) -> dict[str, float]:
        if self._filled == 0:
            return {}
        result = {}
        for s, subject in enumerate(self.subjects):
            expected = self._expected[s]
            actual = self._counts[s, : len(expected)] / self._filled
            result[subject] = psi(actual, expected)
        return result

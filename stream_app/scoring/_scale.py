"""The pre-delinquency score scale: calibrated probability -> a 0-100 risk-rank score.

A calibrated probability of reaching 30 days past due is small for nearly every current
customer, so ``round(100 * p)`` never reaches a threshold like 80 before arrears have started.
The published score is instead a **risk rank** fitted on a training population: each anchor
says which share of that population scores at or above it. ``predelinq train`` uses the
stream's customer-months (the highest pre-delinquency probability of each current customer in
each 30 days, replayed as the worker scores): then the default anchors read

    score 30 -> reached by 20% of current customers in a month
    score 60 -> by 5%   (about 50 contacts per 1,000 customers per month)
    score 80 -> by 2%   (about 20 per 1,000 per month)
    score 95 -> by 0.5%

(without the events, :func:`fit_risk_rank_scale` is fitted on the labelled points instead).
The probability at each anchor is the population's quantile; between anchors the score is
linear in the log-odds of the probability, below the first anchor it falls linearly to 0 at
the population's lowest probability and above the last it rises to 100 at its highest. The
mapping is monotone, so rankings (and reasons) are those of the probability, and it is stored
in the model's metadata (``score_scale``) so that the worker, the offline scorer and the
report use the same one. The calibrated probability stays in every risk event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_ANCHORS", "ProbabilityScale", "RiskRankScale", "ScoreScale",
           "fit_risk_rank_scale"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# (share of the population at or above, score): with the training stream's customer-months
# as the population, score 80 is reached by 2% of current customers in a month (about 20
# contacts per 1,000 customers per month)
DEFAULT_ANCHORS: tuple[tuple[float, int], ...] = ((0.20, 30), (0.05, 60), (0.02, 80),
                                                   (0.005, 95))
_EPS = 1e-12


def _logit(p: Floats) -> Floats:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    out: Floats = np.log(clipped) - np.log1p(-clipped)
    return out


class ScoreScale:
    """Probability -> integer score 0-100."""

    def scores(self, probabilities: Floats) -> Ints:
        raise NotImplementedError

    def to_metadata(self) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def from_metadata(data: object) -> ScoreScale:
        """The scale a model's metadata names; ``round(100 * p)`` for models without one."""
        if isinstance(data, dict) and data.get("method") == "risk_rank":
            return RiskRankScale.from_metadata(data)
        return ProbabilityScale()


class ProbabilityScale(ScoreScale):
    """``round(100 * p)``: the scale of models trained before risk ranks existed."""

    def scores(self, probabilities: Floats) -> Ints:
        out: Ints = np.floor(probabilities * 100 + 0.5).astype(np.int64)
        return out

    def to_metadata(self) -> dict[str, Any]:
        return {"method": "probability"}


@dataclass(frozen=True)
class RiskRankScale(ScoreScale):
    """Knots ``(probability, score)``, increasing in both, from 0 to 100."""

    knots: tuple[tuple[float, float], ...]
    anchors: tuple[tuple[float, int], ...] = DEFAULT_ANCHORS
    population_rows: int = 0
    unit: str = "rows"  # what the population counts: "customer-months" or labelled "rows"

    def __post_init__(self) -> None:
        if len(self.knots) < 2:
            raise ValueError("a risk-rank scale needs at least two knots")
        probabilities = [k[0] for k in self.knots]
        scores = [k[1] for k in self.knots]
        if any(b <= a for a, b in pairwise(probabilities)) or any(
                b < a for a, b in pairwise(scores)):
            raise ValueError("risk-rank knots must increase")
        if scores[0] != 0 or scores[-1] != 100:
            raise ValueError("risk-rank knots must run from score 0 to score 100")

    def scores(self, probabilities: Floats) -> Ints:
        x = _logit(np.asarray([k[0] for k in self.knots], dtype=np.float64))
        y = np.asarray([k[1] for k in self.knots], dtype=np.float64)
        values = np.interp(_logit(np.asarray(probabilities, dtype=np.float64)), x, y)
        out: Ints = np.floor(values + 0.5).astype(np.int64)
        return out

    def probability_at(self, score: int) -> float:
        """The lowest probability that scores at least ``score`` (for reports)."""
        x = _logit(np.asarray([k[0] for k in self.knots], dtype=np.float64))
        y = np.asarray([k[1] for k in self.knots], dtype=np.float64)
        target = max(0.0, min(100.0, score - 0.5))
        logit = float(np.interp(target, y, x))
        return float(1.0 / (1.0 + np.exp(-logit)))

    def to_metadata(self) -> dict[str, Any]:
        return {
            "method": "risk_rank",
            "knots": [[p, s] for p, s in self.knots],
            "anchors": [[q, s] for q, s in self.anchors],
            "population_rows": self.population_rows,
            "unit": self.unit,
            "meaning": "score s: the calibrated probability's rank in the training population "
                       f"({self.unit}); each anchor [share, score] gives the share of that "
                       "population at or above the score",
        }

    @classmethod
    def from_metadata(cls, data: object) -> RiskRankScale:
        if not isinstance(data, dict):
            raise ValueError("a risk-rank scale's metadata must be an object")
        return cls(tuple((float(p), float(s)) for p, s in data["knots"]),
                   tuple((float(q), int(s)) for q, s in data.get("anchors", DEFAULT_ANCHORS)),
                   int(data.get("population_rows", 0)), str(data.get("unit", "rows")))


def fit_risk_rank_scale(probabilities: Floats,
                        anchors: Sequence[tuple[float, int]] = DEFAULT_ANCHORS
                        ) -> RiskRankScale:
    """The scale whose anchors hold on ``probabilities`` (the training population's)."""
    p = np.sort(np.asarray(probabilities, dtype=np.float64))
    if len(p) < 2:
        raise ValueError("a risk-rank scale needs a population of at least two rows")
    ordered = sorted(anchors, key=lambda a: -a[0])  # largest share (lowest score) first
    if any(not 0 < q < 1 or not 0 < s < 100 for q, s in ordered) or any(
            b[1] <= a[1] for a, b in pairwise(ordered)):
        raise ValueError("anchors must be (share in (0, 1), score in (0, 100)) with scores "
                         "rising as shares fall")
    knots: list[tuple[float, float]] = [(float(p[0]), 0.0)]
    for share, score in ordered:
        # the probability at or above which `share` of the population lies
        probability = float(np.quantile(p, 1.0 - share, method="higher"))
        knots.append((probability, float(score)))
    knots.append((float(p[-1]), 100.0))
    # strictly increasing probabilities: ties (a flat population) are nudged apart
    fixed: list[tuple[float, float]] = []
    for quantile, knot_score in knots:
        at = quantile
        if fixed and at <= fixed[-1][0]:
            at = min(1 - _EPS, fixed[-1][0] * (1 + 1e-9) + 1e-15)
        fixed.append((at, knot_score))
    return RiskRankScale(tuple(fixed), tuple((float(q), int(s)) for q, s in ordered), len(p))

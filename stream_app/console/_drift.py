"""Pure figures of the portfolio page: score drift (PSI against the first day of the window)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["PSI_BUCKETS", "psi", "psi_series"]

#: score buckets of the drift figure: width_bucket(score, 0, 101, 10) in SQL, 1..10
PSI_BUCKETS = 10
_FLOOR = 1e-4  # share given to an empty bucket, so that PSI stays finite


def _shares(counts: Mapping[int, int]) -> list[float]:
    total = sum(counts.get(b, 0) for b in range(1, PSI_BUCKETS + 1))
    if total == 0:
        return []
    return [max(counts.get(b, 0) / total, _FLOOR) for b in range(1, PSI_BUCKETS + 1)]


def psi(expected: Mapping[int, int], actual: Mapping[int, int]) -> float | None:
    """Population stability index of ``actual`` against ``expected`` (bucket -> count);
    ``None`` when either has no rows."""
    base, now = _shares(expected), _shares(actual)
    if not base or not now:
        return None
    return sum((a - e) * math.log(a / e) for e, a in zip(base, now, strict=True))


def psi_series(days: Sequence[str],
               histograms: Mapping[str, Mapping[int, int]]) -> list[float | None]:
    """PSI of each day against the first day of ``days`` that has scores."""
    reference = next((histograms[d] for d in days if sum(histograms.get(d, {}).values())), None)
    if reference is None:
        return [None for _ in days]
    return [psi(reference, histograms.get(d, {})) for d in days]

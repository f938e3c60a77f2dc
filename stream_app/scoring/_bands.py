"""Score bands: score (0-100) -> LOW | MEDIUM | HIGH | CRITICAL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_BANDS", "Band", "BandCutoffs"]

Band = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]


@dataclass(frozen=True, slots=True)
class BandCutoffs:
    """Lowest score of each band above LOW."""

    medium: int = 30
    high: int = 60
    critical: int = 80

    def __post_init__(self) -> None:
        if not 0 < self.medium < self.high < self.critical <= 100:
            raise ValueError("band cut-offs must satisfy 0 < medium < high < critical <= 100")

    def band(self, score: int) -> Band:
        if score >= self.critical:
            return "CRITICAL"
        if score >= self.high:
            return "HIGH"
        if score >= self.medium:
            return "MEDIUM"
        return "LOW"


DEFAULT_BANDS = BandCutoffs()

"""Score bands: boundaries of the default and custom cut-offs, and invalid cut-offs."""

from __future__ import annotations

import pytest

from stream_app.events import BANDS
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs


@pytest.mark.parametrize(("score", "band"), [
    (0, "LOW"), (29, "LOW"),
    (30, "MEDIUM"), (59, "MEDIUM"),
    (60, "HIGH"), (79, "HIGH"),
    (80, "CRITICAL"), (100, "CRITICAL"),
])
def test_default_band_boundaries(score: int, band: str) -> None:
    assert DEFAULT_BANDS.band(score) == band


def test_custom_cutoffs_are_lowest_scores_of_their_band() -> None:
    bands = BandCutoffs(medium=10, high=50, critical=100)
    assert [bands.band(s) for s in (9, 10, 49, 50, 99, 100)] == [
        "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH", "CRITICAL"]


def test_bands_are_monotone_in_the_score_and_cover_all_bands() -> None:
    bands = [DEFAULT_BANDS.band(s) for s in range(101)]
    assert [BANDS.index(b) for b in bands] == sorted(BANDS.index(b) for b in bands)
    assert set(bands) == set(BANDS)


@pytest.mark.parametrize(("medium", "high", "critical"), [
    (0, 60, 80),  # medium must be above 0
    (60, 60, 80),  # strictly increasing
    (30, 80, 80),
    (50, 40, 80),
    (30, 60, 101),  # at most 100
    (-5, 60, 80),
])
def test_invalid_cutoffs_are_refused(medium: int, high: int, critical: int) -> None:
    with pytest.raises(ValueError, match="cut-offs"):
        BandCutoffs(medium=medium, high=high, critical=critical)

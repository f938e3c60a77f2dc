"""Score scales: round(100 p) for old models, the risk rank fitted on a population, metadata."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from stream_app.scoring import (
    DEFAULT_ANCHORS,
    ProbabilityScale,
    RiskRankScale,
    ScoreScale,
    fit_risk_rank_scale,
)


def _p(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


# --- round(100 p) ------------------------------------------------------------------------------

def test_probability_scale_rounds_half_up() -> None:
    scores = ProbabilityScale().scores(_p(0.0, 0.004999, 0.005, 0.4949, 0.5, 0.995, 1.0))
    assert scores.tolist() == [0, 0, 1, 49, 50, 100, 100]
    assert scores.dtype.kind == "i"
    assert ProbabilityScale().to_metadata() == {"method": "probability"}


@pytest.mark.parametrize("metadata", [None, {}, {"method": "probability"}, "risk_rank",
                                      {"method": "something newer"}])
def test_models_without_a_risk_rank_scale_score_round_100_p(metadata: object) -> None:
    scale = ScoreScale.from_metadata(metadata)
    assert isinstance(scale, ProbabilityScale)
    assert scale.scores(_p(0.126)).tolist() == [13]


# --- the risk-rank scale -----------------------------------------------------------------------

# logit(0.01) = ln(1/99), logit(0.1) = ln(1/9), logit(0.25) = ln(1/3), logit(0.5) = 0
KNOTS = ((0.01, 0.0), (0.1, 50.0), (0.5, 100.0))


def test_risk_rank_scale_is_linear_in_log_odds_between_knots() -> None:
    scale = RiskRankScale(KNOTS)
    # ln(1/3) is half-way between ln(1/9) and 0: score 75; the knots give their own scores
    assert scale.scores(_p(0.01, 0.1, 0.25, 0.5)).tolist() == [0, 50, 75, 100]
    # half-way in log-odds between 0.01 and 0.1: odds sqrt(1/99 * 1/9) -> score 25
    odds = math.sqrt(1 / 99 * 1 / 9)
    assert scale.scores(_p(odds / (1 + odds))).tolist() == [25]
    # outside the knots the score stays at 0 and 100
    assert scale.scores(_p(0.0, 1e-6, 0.009, 0.51, 0.999, 1.0)).tolist() == [0, 0, 0, 100, 100,
                                                                          100]
    # linear in log-odds, not in probability: p = 0.3 (half-way from 0.1 to 0.5) is not 75 but
    # 50 + 50 * (ln(3/7) - ln(1/9)) / (0 - ln(1/9)) = 80.7
    assert scale.scores(_p(0.3)).tolist() == [81]


def test_risk_rank_scale_is_monotone() -> None:
    scale = RiskRankScale(KNOTS)
    p = np.linspace(0.0, 1.0, 10_001)
    scores = scale.scores(p)
    assert (np.diff(scores) >= 0).all()
    assert (scores.min(), scores.max()) == (0, 100)
    assert set(range(101)) <= set(scores.tolist())  # every score is reachable


@pytest.mark.parametrize("score", [1, 10, 25, 50, 51, 75, 99])
def test_probability_at_is_the_lowest_probability_with_the_score(score: int) -> None:
    scale = RiskRankScale(KNOTS)
    p = scale.probability_at(score)
    assert scale.scores(_p(p * (1 + 1e-6))).tolist() == [score]
    assert scale.scores(_p(p * (1 - 1e-6))).tolist() == [score - 1]


def test_probability_at_the_ends() -> None:
    scale = RiskRankScale(KNOTS)
    assert scale.probability_at(0) == pytest.approx(0.01)
    assert scale.probability_at(101) == pytest.approx(0.5)


@pytest.mark.parametrize("knots", [
    ((0.1, 0.0),),  # one knot
    ((0.1, 0.0), (0.1, 100.0)),  # probabilities not increasing
    ((0.2, 0.0), (0.1, 100.0)),
    ((0.1, 0.0), (0.2, 60.0), (0.3, 50.0), (0.4, 100.0)),  # scores falling
    ((0.1, 5.0), (0.2, 100.0)),  # not from 0
    ((0.1, 0.0), (0.2, 90.0)),  # not to 100
])
def test_invalid_knots_are_refused(knots: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ValueError, match="knot"):
        RiskRankScale(knots)


# --- fitting on a population -------------------------------------------------------------------

def test_fitted_anchors_hold_on_the_population() -> None:
    rng = np.random.default_rng(3)
    population = rng.beta(0.6, 30.0, 20_000)  # skewed like a pre-delinquency probability
    scale = fit_risk_rank_scale(population)
    assert scale.population_rows == 20_000
    assert scale.anchors == tuple(sorted(DEFAULT_ANCHORS, key=lambda a: -a[0]))
    assert scale.knots[0] == (population.min(), 0.0)
    assert scale.knots[-1] == (population.max(), 100.0)
    for (share, score), (probability, knot_score) in zip(scale.anchors, scale.knots[1:-1],
                                                         strict=True):
        assert knot_score == score
        # `share` of the population is at or above the anchor's probability ...
        assert np.mean(population >= probability) == pytest.approx(share, abs=1 / 20_000)
        # ... and scores at least the anchor's score; the rows below score no more
        at = scale.scores(population[population >= probability])
        assert at.min() == score
        below = population[population < probability].max()
        assert scale.scores(_p(below)).tolist()[0] <= score
    assert scale.scores(_p(population.min(), population.max())).tolist() == [0, 100]


def test_fitting_with_own_anchors_in_any_order() -> None:
    population = np.arange(1, 1001) / 2000.0  # 0.0005 .. 0.5, all distinct
    scale = fit_risk_rank_scale(population, anchors=[(0.1, 90), (0.5, 40)])
    assert scale.anchors == ((0.5, 40), (0.1, 90))
    # quantile "higher": the 501st and the 901st smallest rows
    assert [k[0] for k in scale.knots] == pytest.approx([0.0005, 0.2505, 0.4505, 0.5])
    # 10% of the rows are at or above the anchor's probability; rounding to the nearest score
    # adds the rows within half a point below it (about 9 rows a point near
    # it, in log-odds: 4 rows)
    assert np.mean(population >= scale.knots[2][0]) == 0.1
    assert np.mean(scale.scores(population) >= 90) == pytest.approx(0.104)


def test_a_flat_population_still_gives_increasing_knots() -> None:
    scale = fit_risk_rank_scale(np.full(50, 0.03))
    probabilities = [k[0] for k in scale.knots]
    assert all(b > a for a, b in itertools.pairwise(probabilities))
    assert probabilities[0] == 0.03
    assert probabilities[-1] == pytest.approx(0.03, rel=1e-6)


@pytest.mark.parametrize(("population", "anchors"), [
    ([0.1], DEFAULT_ANCHORS),  # a population of one
    ([0.1, 0.2, 0.3], [(0.0, 50)]),  # share out of (0, 1)
    ([0.1, 0.2, 0.3], [(1.0, 50)]),
    ([0.1, 0.2, 0.3], [(0.5, 100)]),  # score out of (0, 100)
    ([0.1, 0.2, 0.3], [(0.5, 60), (0.2, 40)]),  # scores falling as shares fall
    ([0.1, 0.2, 0.3], [(0.5, 60), (0.2, 60)]),
])
def test_fitting_refuses_bad_inputs(population: list[float],
                                    anchors: list[tuple[float, int]]) -> None:
    with pytest.raises(ValueError, match=r"risk-rank|anchors"):
        fit_risk_rank_scale(np.asarray(population), anchors)


# --- metadata ----------------------------------------------------------------------------------

def test_risk_rank_metadata_round_trip_through_json() -> None:
    rng = np.random.default_rng(9)
    scale = fit_risk_rank_scale(rng.uniform(0, 0.3, 500))
    scale = dataclasses.replace(scale, unit="customer-months")
    metadata = json.loads(json.dumps(scale.to_metadata()))
    assert metadata["method"] == "risk_rank"
    assert metadata["unit"] == "customer-months"
    assert metadata["population_rows"] == 500
    restored = ScoreScale.from_metadata(metadata)
    assert isinstance(restored, RiskRankScale)
    assert restored == scale
    p = rng.uniform(0, 0.4, 1000)
    assert restored.scores(p).tolist() == scale.scores(p).tolist()


def test_risk_rank_metadata_defaults() -> None:
    restored = RiskRankScale.from_metadata({"method": "risk_rank",
                                            "knots": [[0.01, 0], [0.5, 100]]})
    assert restored.anchors == DEFAULT_ANCHORS
    assert (restored.population_rows, restored.unit) == (0, "rows")
    with pytest.raises(ValueError, match="object"):
        RiskRankScale.from_metadata([[0.01, 0], [0.5, 100]])

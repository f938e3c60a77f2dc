"""Population stability index and the worker's sliding drift window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream_app.scoring import SCORE_EDGES, DriftMonitor, build_baseline, psi


def test_psi_is_zero_for_identical_and_grows_with_shift() -> None:
    expected = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(expected, expected) == 0.0
    shifted = np.array([0.1, 0.2, 0.3, 0.4])
    by_hand = sum((a - e) * math.log(a / e) for a, e in zip(shifted, expected, strict=True))
    assert psi(shifted, expected) == pytest.approx(by_hand)
    assert psi(np.array([0.0, 0.0, 0.0, 1.0]), expected) > psi(shifted, expected) > 0


def _baseline(rng: np.random.Generator) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    features = rng.normal(size=(5000, 6))
    scores = rng.integers(0, 100, size=5000)
    importances = np.array([1.0, 9.0, 3.0, 7.0, 0.5, 5.0])
    return build_baseline(scores, features, [f"f{i}" for i in range(6)], importances), \
        scores, features


def test_baseline_keeps_the_score_and_the_five_most_important_features() -> None:
    baseline, _, _ = _baseline(np.random.default_rng(0))
    assert baseline["score"]["edges"] == SCORE_EDGES  # type: ignore[index]
    assert sum(baseline["score"]["shares"]) == pytest.approx(1.0)  # type: ignore[index]
    features = baseline["features"]
    assert list(features) == ["f1", "f3", "f5", "f2", "f0"]  # type: ignore[arg-type]
    for spec in features.values():  # type: ignore[union-attr]
        assert len(spec["shares"]) == len(spec["edges"]) + 1
        assert sum(spec["shares"]) == pytest.approx(1.0)


def test_monitor_sees_no_drift_on_the_training_distribution_and_flags_a_shift() -> None:
    rng = np.random.default_rng(1)
    baseline, scores, features = _baseline(rng)
    monitor = DriftMonitor("v1", baseline, window=3000)
    assert monitor.psi() == {}
    for start in range(0, 3000, 250):  # batches, as the worker feeds them
        monitor.observe(scores[start:start + 250], features[start:start + 250])
    stable = monitor.psi()
    assert set(stable) == {"score", "feature:f1", "feature:f3", "feature:f5", "feature:f2",
                           "feature:f0"}
    assert max(stable.values()) < 0.02
    # the window slides: 3000 rows of a shifted f1 replace everything seen before
    shifted = rng.normal(size=(3000, 6))
    shifted[:, 1] += 1.5
    monitor.observe(rng.integers(0, 100, size=3000), shifted)
    assert monitor.observed == 3000
    drifted = monitor.psi()
    assert drifted["feature:f1"] > 0.2
    assert drifted["feature:f3"] < 0.05


def test_window_counts_match_a_recount_after_wrapping() -> None:
    rng = np.random.default_rng(2)
    baseline, _, _ = _baseline(rng)
    monitor = DriftMonitor("v1", baseline, window=700)
    seen_scores, seen_features = [], []
    for size in (300, 300, 300, 50, 1000, 10):
        scores = rng.integers(0, 100, size=size)
        features = rng.normal(size=(size, 6))
        monitor.observe(scores, features)
        seen_scores.append(scores)
        seen_features.append(features)
    recent_scores = np.concatenate(seen_scores)[-700:]
    recent_features = np.concatenate(seen_features)[-700:]
    fresh = DriftMonitor("v1", baseline, window=700)
    fresh.observe(recent_scores, recent_features)
    assert monitor.psi() == pytest.approx(fresh.psi())


def test_models_without_a_baseline_have_no_monitor() -> None:
    assert DriftMonitor.from_metadata("old", {}) is None

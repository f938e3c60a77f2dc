"""Model evaluation: calibration table, curves, reason codes, lead times (hand-made and real)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stream_app.features import FEATURES
from stream_app.offline import replay_events
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs
from stream_app.simulate import BankSimulator, CustomerTruth, SimulationConfig, labels_from_truth
from stream_app.training import (
    Dataset,
    EvaluationError,
    ScoreHistory,
    build_dataset,
    calibration_table,
    classification_metrics,
    detection_at,
    evaluate_model,
    false_alarm_threshold,
    lead_times,
    precision_recall_curve,
    reason_frequency,
    roc_auc,
    roc_curve,
    score_history,
)
from tests.support.models import TrainedFixture

N_FEATURES = len(FEATURES)


def arrays(y: list[int], p: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)


# --- calibration table -------------------------------------------------------------------------

def test_calibration_table_bins_rows_by_predicted_probability() -> None:
    # 20 rows given out of order; sorted by p they form 10 bins of 2 rows
    p = np.arange(20)[::-1] / 20.0  # 0.95, 0.90, ..., 0.0
    y = np.zeros(20, dtype=np.int64)
    y[p >= 0.8] = 1  # the top two bins (0.80-0.85, 0.90-0.95) are all positive
    y[p == 0.5] = 1  # one of the two rows of bin 6 (0.50, 0.55)
    table = calibration_table(y, p)
    assert len(table) == 10
    assert [b.count for b in table] == [2] * 10
    assert sum(b.count for b in table) == len(y)
    assert [b.observed_rate for b in table] == [0, 0, 0, 0, 0, 0.5, 0, 0, 1, 1]
    assert [b.lower for b in table] == pytest.approx([i / 10 for i in range(10)])
    assert [b.upper for b in table] == pytest.approx([i / 10 + 0.05 for i in range(10)])
    assert [b.mean_predicted for b in table] == pytest.approx([i / 10 + 0.025 for i in range(10)])


def test_calibration_table_uneven_and_tiny_inputs() -> None:
    y, p = arrays([1, 0, 0] * 7 + [1, 1], list(np.linspace(0, 1, 23)))
    table = calibration_table(y, p)
    assert [b.count for b in table] == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert sum(b.count for b in table) == 23
    assert table[0].observed_rate == pytest.approx(1 / 3)  # rows 0, 1, 2: labels 1, 0, 0
    assert table[-1].observed_rate == 1.0  # rows 21, 22: labels 1, 1
    # fewer rows than bins: the empty bins say so instead of inventing numbers
    few = calibration_table(*arrays([0, 1, 1], [0.2, 0.9, 0.4]))
    assert sum(b.count for b in few) == 3
    assert [b.count for b in few].count(0) == 7
    filled = [b for b in few if b.count]
    assert [(b.mean_predicted, b.observed_rate) for b in filled] == [(0.2, 0), (0.4, 1), (0.9, 1)]
    assert all(b.mean_predicted is None and b.observed_rate is None for b in few if not b.count)


# --- curves ------------------------------------------------------------------------------------

def test_roc_and_precision_recall_curves_hand_computed() -> None:
    y, p = arrays([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # ranked +, -, +, -
    roc = roc_curve(y, p)
    assert roc.x.tolist() == [0, 0, 0.5, 0.5, 1]
    assert roc.y.tolist() == [0, 0.5, 0.5, 1, 1]
    pr = precision_recall_curve(y, p)
    assert pr.x.tolist() == [0, 0.5, 0.5, 1, 1]
    assert pr.y.tolist() == pytest.approx([1, 1, 0.5, 2 / 3, 0.5])


def test_roc_curve_area_is_the_roc_auc_with_ties() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p = rng.integers(0, 8, 300) / 7.0  # many ties: a tie is one diagonal step
    curve = roc_curve(y, p)
    area = float(np.sum(np.diff(curve.x) * (curve.y[1:] + curve.y[:-1]) / 2))
    assert area == pytest.approx(roc_auc(y, p), abs=1e-12)
    assert len(curve.x) == len(np.unique(p)) + 1


# --- reason codes ------------------------------------------------------------------------------

def test_reason_frequency_counts_only_high_and_critical_rows() -> None:
    scores = np.asarray([85, 60, 59, 10, 95], dtype=np.int64)  # CRITICAL, HIGH, MEDIUM, LOW, CRIT
    contributions = np.zeros((5, N_FEATURES))
    contributions[0, [0, 1, 2, 3]] = [0.9, 0.8, 0.7, 0.1]  # top 3: features 0, 1, 2
    contributions[1, [1, 5]] = [0.5, 0.4]  # only two risk-raising features
    contributions[1, 6] = -2.0  # lowers the risk: never a reason
    contributions[2, 7] = 3.0  # MEDIUM (59): must not count
    contributions[3, 8] = 3.0  # LOW: must not count
    # row 4 raises nothing: flagged, but without reasons
    values = np.ones((5, N_FEATURES))
    flagged, reasons = reason_frequency(contributions, values, scores)
    assert flagged == 3
    counts = {r.code: r.count for r in reasons}
    code = [spec.reason_code for spec in FEATURES]
    assert counts == {code[0]: 1, code[1]: 2, code[2]: 1, code[5]: 1}
    assert reasons[0].code == code[1]  # most frequent first
    assert reasons[0].share == pytest.approx(2 / 3)
    assert reasons[0].text == FEATURES[1].reason_text
    # other band cut-offs move the boundary: with HIGH from 55 the MEDIUM row now counts
    flagged, reasons = reason_frequency(contributions, values, scores,
                                        BandCutoffs(medium=30, high=55, critical=80))
    assert flagged == 4
    assert {r.code for r in reasons} == {code[0], code[1], code[2], code[5], code[7]}


def test_reason_frequency_without_flagged_rows() -> None:
    flagged, reasons = reason_frequency(np.ones((3, N_FEATURES)), np.ones((3, N_FEATURES)),
                                        np.asarray([0, 30, 59], dtype=np.int64))
    assert (flagged, reasons) == (0, [])


# --- evaluation of a real model ----------------------------------------------------------------

Simulated = tuple[Dataset, BankSimulator, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def simulated() -> Simulated:
    config = SimulationConfig(customers=120, days=150, seed=21)  # not the fixture's seed
    simulator = BankSimulator(config)
    events = list(simulator.events())
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
    return build_dataset(events, labels), simulator, events


def test_evaluate_model_on_simulated_rows(trained: TrainedFixture,
                                          simulated: Simulated) -> None:
    dataset, _, _ = simulated
    assert 0 < dataset.labels.sum() < len(dataset.labels)
    evaluation = evaluate_model(trained.model, dataset)
    scored = trained.model.score(dataset.features)
    assert evaluation.model_version == trained.model.version
    assert evaluation.metrics == classification_metrics(dataset.labels, scored.probabilities)
    assert sum(b.count for b in evaluation.calibration) == len(dataset.labels)
    assert evaluation.flagged_rows == int(np.count_nonzero(scored.scores >= DEFAULT_BANDS.high))
    assert evaluation.lead_times is None
    # with a low HIGH cut-off rows are flagged; each has at most three reasons
    bands = BandCutoffs(medium=1, high=2, critical=3)
    low = evaluate_model(trained.model, dataset, bands=bands)
    assert low.flagged_rows == int(np.count_nonzero(scored.scores >= 2)) > 0
    assert low.reasons
    assert sum(r.count for r in low.reasons) <= 3 * low.flagged_rows
    assert all(0 < r.count <= low.flagged_rows for r in low.reasons)


def test_evaluate_model_refuses_a_single_class(trained: TrainedFixture,
                                               simulated: Simulated) -> None:
    dataset, _, _ = simulated
    negatives = dataset.subset(np.flatnonzero(dataset.labels == 0))
    with pytest.raises(EvaluationError, match="no positive"):
        evaluate_model(trained.model, negatives)
    positives = dataset.subset(np.flatnonzero(dataset.labels == 1))
    with pytest.raises(EvaluationError, match="no negative"):
        evaluate_model(trained.model, positives)


# --- lead times on a hand-made scenario --------------------------------------------------------

def _truth(customer: str, dpd_by_day: dict[int, int] | None = None) -> CustomerTruth:
    return CustomerTruth(customer, dpd_by_day=dpd_by_day or {})


@pytest.fixture
def scenario() -> tuple[ScoreHistory, list[CustomerTruth]]:
    truths = [
        _truth("A", {40: 20, 50: 30, 51: 31}),  # reaches 30 DPD on day 50
        _truth("B", {40: 30}),  # on day 40
        _truth("C", {20: 30}),  # on day 20, never scored
        _truth("N1"), _truth("N2"), _truth("N3"), _truth("N4"),
        _truth("N5", {60: 29}),  # in arrears but never 30 DPD: a negative
    ]
    history = ScoreHistory.from_rows([
        ("A", 10, 20), ("A", 30, 70), ("A", 45, 90), ("A", 50, 99), ("A", 60, 99),
        ("B", 5, 65), ("B", 39, 50), ("B", 40, 99),
        ("N1", 3, 10), ("N2", 7, 55), ("N2", 9, 1), ("N3", 100, 70),
        ("N4", 1, 85), ("N5", 61, 90),
        ("STRANGER", 1, 100),  # not in the truths: ignored
    ])
    return history, truths


def test_detection_lead_days_hand_computed(
        scenario: tuple[ScoreHistory, list[CustomerTruth]]) -> None:
    history, truths = scenario
    at_60 = detection_at(history, truths, 60)
    assert (at_60.positives, at_60.negatives) == (3, 5)
    assert at_60.lead_days == (20, 35)  # A: day 50 - day 30; B: day 40 - day 5
    assert at_60.detection_rate == pytest.approx(2 / 3)
    assert at_60.false_alarms == 3  # N3 (70), N4 (85), N5 (90)
    assert at_60.false_alarm_rate == pytest.approx(3 / 5)
    assert at_60.median_lead_days == 27.5
    assert (at_60.lead_quantile(0.25), at_60.lead_quantile(0.75)) == (23.75, 31.25)
    assert detection_at(history, truths, 80).lead_days == (5,)  # A on day 45; B never >= 80
    # a score on the 30-DPD day itself is not a warning
    at_99 = detection_at(history, truths, 99)
    assert at_99.lead_days == ()
    assert at_99.detection_rate == 0.0
    assert at_99.median_lead_days is None


def test_false_alarm_threshold_selection(
        scenario: tuple[ScoreHistory, list[CustomerTruth]]) -> None:
    maxima = np.asarray([10, 55, 70, 85, 90], dtype=np.int64)  # N1..N5
    assert false_alarm_threshold(maxima, 0.2) == 86  # only N5 (90) left
    assert false_alarm_threshold(maxima, 0.4) == 71  # N4 and N5
    assert false_alarm_threshold(maxima, 0.0) == 91
    assert false_alarm_threshold(maxima, 1.0) == 0
    assert false_alarm_threshold(np.asarray([100, 100], dtype=np.int64), 0.0) == 101
    assert false_alarm_threshold(np.zeros(0, dtype=np.int64), 0.05) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        false_alarm_threshold(maxima, 1.5)

    history, truths = scenario
    result = lead_times(history, truths, false_alarm_rate=0.4)
    assert result.at_target.threshold == 71
    assert result.at_target.false_alarm_rate == pytest.approx(0.4)
    assert result.at_target.lead_days == (5,)  # A at 90 on day 45; B peaks at 65
    assert result.at_high_band.threshold == DEFAULT_BANDS.high
    assert result.at_high_band.lead_days == (20, 35)
    assert (result.customers, result.rows_scored) == (8, history.rows)


# --- lead times on a real replay ---------------------------------------------------------------

def test_score_history_scores_every_replayed_row(trained: TrainedFixture) -> None:
    config = SimulationConfig(customers=12, days=70, seed=23)
    events = list(BankSimulator(config).events())
    rows = list(replay_events(events))
    history = score_history(trained.model, events, start_ms=config.start_ms, batch_size=50)
    assert history.rows == len(rows)
    assert [history.customer_ids[c] for c in history.customer] == [r.customer_id for r in rows]
    expected = trained.model.score(np.asarray([r.vector for r in rows]))
    assert history.score.tolist() == expected.scores.tolist()
    assert history.day.tolist() == [(r.as_of - config.start_ms) // 86_400_000 for r in rows]
    assert history.day.min() >= 0
    assert history.day.max() < config.days
    one_batch = score_history(trained.model, events, start_ms=config.start_ms)  # batch 8192
    assert one_batch.customer_ids == history.customer_ids
    for name in ("customer", "day", "score"):
        assert getattr(one_batch, name).tolist() == getattr(history, name).tolist()


def test_lead_times_on_a_simulation(trained: TrainedFixture,
                                    simulated: Simulated) -> None:
    _, simulator, events = simulated
    history = score_history(trained.model, events, start_ms=simulator.config.start_ms)
    truths = simulator.truths
    result = lead_times(history, truths)
    reaching = [t for t in truths if t.first_day_at_dpd(30) is not None]
    assert result.at_target.positives == len(reaching) > 0
    assert result.at_target.negatives == len(truths) - len(reaching)
    assert result.at_target.false_alarm_rate <= 0.05
    # the threshold is the smallest meeting the target: one lower would exceed it
    if result.at_target.threshold > 0:
        lower = detection_at(history, truths, result.at_target.threshold - 1)
        assert lower.false_alarm_rate > 0.05
    for detection in (result.at_target, result.at_high_band):
        assert all(days > 0 for days in detection.lead_days)

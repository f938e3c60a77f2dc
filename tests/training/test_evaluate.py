"""Model evaluation: calibration table, curves, reason codes, the current-only evaluation, and
pre-delinquency capture (hand-built customers that pin the definitions, and a real replay)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from stream_app.features import FEATURES, feature_index, in_arrears
from stream_app.offline import replay_events
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from stream_app.training import (
    CapturePoint,
    Dataset,
    DpdHistory,
    EvaluationError,
    ScoreHistory,
    build_dataset,
    calibration_table,
    capture_at,
    capture_report,
    classification_metrics,
    evaluate_model,
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

_DPD = feature_index("dpd_current")
_PAST_DUE = feature_index("amount_past_due_minor")


class Simulated:
    """A simulation the fixture model was not trained on (seed 21, not 3), replayed."""

    def __init__(self) -> None:
        self.config = SimulationConfig(customers=300, days=240, seed=21)
        simulator = BankSimulator(self.config)
        self.events = list(simulator.events())
        self.truths = simulator.truths
        labels = labels_from_truth(self.truths, start_ms=self.config.start_ms,
                                   days=self.config.days)
        self.dataset = build_dataset(self.events, labels)
        self.dpd = DpdHistory.from_truths(self.truths, start_ms=self.config.start_ms,
                                          days=self.config.days)


@pytest.fixture(scope="module")
def simulated() -> Simulated:
    return Simulated()


def _with_arrears_rows(dataset: Dataset, every: int = 5) -> tuple[Dataset, int]:
    """The dataset with a copy of every ``every``-th row put in arrears, interleaved."""
    features, labels, customers, as_of = [], [], [], []
    added = 0
    for i in range(len(dataset.labels)):
        features.append(dataset.features[i])
        labels.append(dataset.labels[i])
        customers.append(dataset.customers[i])
        as_of.append(dataset.as_of[i])
        if i % every == 0:
            row = dataset.features[i].copy()
            if added % 2:
                row[_DPD] = 12
            else:
                row[_PAST_DUE] = 4_000  # unpaid before any arrears status
            features.append(row)
            labels.append(1)
            customers.append(dataset.customers[i])
            as_of.append(dataset.as_of[i])
            added += 1
    return Dataset(np.asarray(features), np.asarray(labels, dtype=np.int64), customers,
                   np.asarray(as_of, dtype=np.int64)), added


def test_evaluate_model_on_simulated_rows(trained: TrainedFixture,
                                          simulated: Simulated) -> None:
    dataset = simulated.dataset
    assert 0 < dataset.labels.sum() < len(dataset.labels)
    assert not in_arrears(dataset.features).any()  # labels are taken where current
    evaluation = evaluate_model(trained.model, dataset)
    scored = trained.model.score(dataset.features)
    assert evaluation.model_version == trained.model.version
    assert evaluation.metrics == classification_metrics(dataset.labels, scored.probabilities)
    assert sum(b.count for b in evaluation.calibration) == len(dataset.labels)
    assert evaluation.flagged_rows == int(np.count_nonzero(scored.scores >= DEFAULT_BANDS.high))
    assert evaluation.capture is None
    assert evaluation.arrears_rows_left_out == 0
    # with a low HIGH cut-off rows are flagged; each has at most three reasons
    bands = BandCutoffs(medium=1, high=2, critical=3)
    low = evaluate_model(trained.model, dataset, bands=bands)
    assert low.flagged_rows == int(np.count_nonzero(scored.scores >= 2)) > 0
    assert low.reasons
    assert sum(r.count for r in low.reasons) <= 3 * low.flagged_rows
    assert all(0 < r.count <= low.flagged_rows for r in low.reasons)
    assert not {r.code for r in low.reasons} & {"R_PAST_DUE", "R_MULTIPLE_ARREARS",
                                                 "R_AMOUNT_PAST_DUE"}


def test_evaluate_model_leaves_arrears_rows_out(trained: TrainedFixture,
                                                simulated: Simulated) -> None:
    dataset, added = _with_arrears_rows(simulated.dataset)
    assert added > 100
    evaluation = evaluate_model(trained.model, dataset)
    assert evaluation.arrears_rows_left_out == added
    # exactly the evaluation of the current rows (the added rows are all labelled 1: had
    # they counted, the positives and every metric would differ)
    alone = evaluate_model(trained.model, simulated.dataset)
    assert evaluation.metrics == alone.metrics
    assert evaluation.calibration == alone.calibration
    assert evaluation.flagged_rows == alone.flagged_rows
    only_arrears = dataset.subset(np.flatnonzero(in_arrears(dataset.features)))
    with pytest.raises(EvaluationError, match="every labelled point is in arrears"):
        evaluate_model(trained.model, only_arrears)


def test_evaluate_model_refuses_a_single_class(trained: TrainedFixture,
                                               simulated: Simulated) -> None:
    dataset = simulated.dataset
    negatives = dataset.subset(np.flatnonzero(dataset.labels == 0))
    with pytest.raises(EvaluationError, match="no positive"):
        evaluate_model(trained.model, negatives)
    positives = dataset.subset(np.flatnonzero(dataset.labels == 1))
    with pytest.raises(EvaluationError, match="no negative"):
        evaluate_model(trained.model, positives)


# --- capture: hand-built customers pin the definitions -----------------------------------------

DAYS = 300  # days observed
# missed due date day 100: 1 DPD on day 101 ... 30 DPD on day 130 (the definitional case)
MISSED_ON_100 = {100 + k: k for k in range(1, 31)}


def _dpd(customers: dict[str, dict[int, int]], days: int = DAYS) -> DpdHistory:
    return DpdHistory(0, days, customers, tuple(customers))


def _history(*rows: tuple[str, int, int, bool]) -> ScoreHistory:
    return ScoreHistory.from_rows(rows)


def _at(rows: list[tuple[str, int, int, bool]], customers: dict[str, dict[int, int]],
        threshold: int = 80, **kwargs: int) -> CapturePoint:
    return capture_at(_history(*rows), _dpd(customers), threshold, **kwargs)


def test_outcome_of_a_customer() -> None:
    dpd = _dpd({"P": MISSED_ON_100, "CURED": {40 + k: k for k in range(1, 7)},
                "TWICE": {61: 1, 62: 2, 63: 3} | {150 + k: k for k in range(1, 35)},
                "NEVER": {}})
    assert dpd.outcome("P").missed_due_day == 100  # day 130 at 30 DPD minus 30
    assert dpd.outcome("P").first_miss_due_day == 100  # day 101 at 1 DPD minus 1
    assert dpd.outcome("CURED").missed_due_day is None  # never 30 DPD
    assert dpd.outcome("CURED").first_miss_due_day == 40
    assert dpd.outcome("TWICE").missed_due_day == 150
    assert dpd.outcome("TWICE").first_miss_due_day == 60  # the first-ever miss, cured
    assert dpd.outcome("NEVER") == dpd.outcome("NOT-IN-THE-LOG")
    assert dpd.outcome("NEVER").missed_due_day is None
    assert dpd.has_arrears
    assert not _dpd({"A": {}, "B": {}}).has_arrears


def test_captured_while_current_only_by_a_flag_before_the_missed_due_date() -> None:
    customers = {"P": MISSED_ON_100, "N": {}}
    before = _at([("P", 99, 85, True)], customers)
    assert (before.positives, before.captured, before.lead_days) == (1, 1, (1,))
    assert before.capture_rate == 1.0
    # on the missed due date itself, or later, is not a warning
    for day in (100, 101, 120):
        late = _at([("P", day, 99, True)], customers)
        assert (late.positives, late.captured, late.capture_rate) == (1, 0, 0.0), day
    # a high score on the arrears track never counts, even before day 100
    arrears = _at([("P", 95, 99, False)], customers)
    assert (arrears.captured, arrears.contacts_per_1000_month) == (0, 0.0)
    # below the threshold is not a flag; at the threshold is
    assert _at([("P", 99, 79, True)], customers).captured == 0
    assert _at([("P", 99, 80, True)], customers).captured == 1


def test_lead_is_from_the_first_flag_to_the_missed_due_date() -> None:
    rows = [("P", 92, 85, True), ("P", 97, 95, True), ("P", 99, 70, True),
            ("P", 105, 99, True)]  # a flag after the miss changes nothing
    customers = {"P": MISSED_ON_100}
    assert _at(rows, customers, 80).lead_days == (8,)  # first flag at 80: day 92
    assert _at(rows, customers, 90).lead_days == (3,)  # at 90: day 97
    assert _at(rows, customers, 60).lead_days == (8,)
    assert _at(rows, customers, 96).lead_days == ()


def test_lead_days_of_several_customers() -> None:
    customers = {"A": MISSED_ON_100, "B": {200 + k: k for k in range(1, 31)},
                 "C": {150 + k: k for k in range(1, 31)}}
    point = _at([("A", 90, 90, True), ("B", 170, 90, True), ("B", 180, 90, True),
                 ("C", 149, 50, True)], customers)
    assert point.positives == 3
    assert point.lead_days == (10, 30)  # sorted; C is never flagged at 80
    assert point.capture_rate == pytest.approx(2 / 3)
    assert point.median_lead_days == 20.0
    assert point.lead_quantile(0.25) == 15.0
    assert _at([], customers).median_lead_days is None


def test_warm_up_excludes_earlier_flags_and_earlier_delinquents() -> None:
    customers = {"P": MISSED_ON_100, "EARLY": {50 + k: k for k in range(1, 31)}}  # due day 50
    rows = [("P", 80, 90, True), ("EARLY", 45, 90, True)]
    default = _at(rows, customers)  # warm-up 90 days
    # the flag on day 80 is in the warm-up; EARLY's missed due date (50) is before the window
    assert (default.positives, default.captured) == (1, 0)
    shorter = _at(rows, customers, warmup_days=40)
    assert (shorter.positives, shorter.lead_days) == (2, (5, 20))
    # a missed due date on the first day of the window counts; a flag on that day is in it
    assert _at([("P", 90, 90, True)], customers, warmup_days=100).positives == 1
    assert _at([("P", 90, 90, True)], customers, warmup_days=101).positives == 0
    assert _at([("P", 90, 90, True)], customers, warmup_days=90).lead_days == (10,)
    assert _at([("P", 89, 90, True)], customers, warmup_days=90).lead_days == ()


def test_capture_before_the_first_ever_miss() -> None:
    # a first-ever miss on due day 60 (cured at 3 DPD), then the miss of due day 150 that
    # goes on to 30 DPD
    twice = {61: 1, 62: 2, 63: 3} | {150 + k: k for k in range(1, 31)}
    customers = {"TWICE": twice, "ONCE": MISSED_ON_100}
    after_cure = [("TWICE", 70, 90, True), ("ONCE", 95, 90, True)]
    window_90 = _at(after_cure, customers)
    # TWICE's first-ever miss is before the window: not a first-miss positive
    assert (window_90.positives, window_90.first_miss_positives) == (2, 1)
    assert window_90.first_miss_captured == 1  # ONCE: flagged on 95, first miss 100
    assert window_90.first_miss_capture_rate == 1.0
    window_30 = _at(after_cure, customers, warmup_days=30)
    assert (window_30.positives, window_30.first_miss_positives) == (2, 2)
    # flagged on day 70: while current before the 30-DPD miss (150), not before the first (60)
    assert window_30.lead_days == (5, 80)
    assert window_30.first_miss_captured == 1
    early = _at([("TWICE", 55, 90, True)], customers, warmup_days=30)
    assert (early.lead_days, early.first_miss_captured) == ((95,), 1)
    assert _at([], customers).first_miss_capture_rate == 0.0
    assert _at([], {"N": {}}).first_miss_capture_rate is None


def test_false_alarms_only_for_customers_who_never_reach_30_dpd() -> None:
    customers = {"P": MISSED_ON_100, "N1": {}, "N2": {40 + k: k for k in range(1, 7)},
                 "N3": {}, "N4": {}, "QUIET": {}}
    rows = [
        ("P", 99, 95, True),  # a future delinquent: captured, never a false alarm
        ("N1", 150, 90, True),  # flagged, and 150 days of outcome seen: a false alarm
        ("N2", 209, 90, True),  # missed and cured below 30 DPD: still a false alarm
        ("N3", 210, 99, True),  # flagged within 90 days of the end: outcome unknown yet
        ("N4", 150, 99, False),  # a high score on the arrears track is no flag
        ("N4", 120, 50, True),  # below the threshold
    ]
    point = _at(rows, customers)
    assert point.negatives == 5  # every customer who never reaches 30 DPD, flagged or not
    assert point.false_alarms == 2  # N1 and N2
    assert point.false_alarm_rate == pytest.approx(2 / 5)
    # the outcome window is a parameter: with 60 days, N3's day-210 flag counts
    assert _at(rows, customers, outcome_days=60).false_alarms == 3
    assert _at([], {"P": MISSED_ON_100}).false_alarm_rate == 0.0  # no negatives


def test_contacts_per_1000_customers_per_month() -> None:
    # 10 customers over a 210-day window (days 90-299): 7 months of 30 days
    customers = {f"C{i}": {} for i in range(10)}
    rows = [
        ("C0", 90, 90, True), ("C0", 95, 90, True), ("C0", 119, 90, True),  # period 0
        ("C0", 120, 90, True),  # period 1
        ("C1", 100, 90, True), ("C1", 100, 99, True),  # period 0, twice the same day
        ("C2", 299, 85, True),  # the last day: period 6
        ("C3", 89, 99, True),  # in the warm-up
        ("C4", 100, 99, False),  # on the arrears track
        ("C5", 150, 60, True),  # below the threshold
    ]
    point = _at(rows, customers)
    contacts = 4  # (C0, 0), (C0, 1), (C1, 0), (C2, 6)
    assert point.contacts_per_1000_month == pytest.approx(1000 * contacts / 10 / 7)
    # customers in the history but not in the days-past-due data count as customers too
    wider = capture_at(_history(*rows, ("EXTRA", 200, 10, True)), _dpd(customers), 80)
    assert wider.contacts_per_1000_month == pytest.approx(1000 * contacts / 11 / 7)
    assert wider.negatives == 11


def test_capture_report_curve_target_and_operating_points() -> None:
    customers = {"P1": MISSED_ON_100, "P2": {200 + k: k for k in range(1, 31)},
                 **{f"N{i}": {} for i in range(10)}}
    rows = [("P1", 95, 70, True), ("P2", 150, 40, True),
            ("N0", 100, 65, True), ("N1", 120, 50, True), ("N2", 130, 30, True)]
    history = _history(*rows)
    report = capture_report(history, _dpd(customers),
                            operating_points=[("HIGH band", 60), ("AUTO", 80), ("HIGH", 150)],
                            target_false_alarm_rate=0.1)
    assert (report.customers, report.rows_scored) == (12, 5)
    assert (report.warmup_days, report.outcome_days, report.window_days) == (90, 90, 210)
    # false alarms at t: negatives flagged at >= t: 3 up to 30, 2 up to 50, 1 up to 65, then 0
    assert report.curve.false_alarm_rate[30] == pytest.approx(0.3)
    assert report.curve.false_alarm_rate[31] == pytest.approx(0.2)
    assert report.curve.false_alarm_rate[66] == 0.0
    # the lowest threshold with at most 10% false alarms (1 of 10): 51
    assert report.at_target.threshold == 51
    assert report.at_target.false_alarm_rate == pytest.approx(0.1)
    assert report.at_target.lead_days == (5,)  # P1 at 70 on day 95; P2 only at 40
    assert len(report.curve.capture_rate) == len(report.curve.contacts_per_1000_month) == 101
    assert report.curve.capture_rate[40] == 1.0
    assert report.curve.capture_rate[41] == 0.5
    assert report.curve.capture_rate[71] == 0.0
    names = [name for name, _ in report.operating_points]
    assert names == ["HIGH band", "AUTO", "HIGH"]
    high, auto, _ = (point for _, point in report.operating_points)
    assert (high.threshold, high.captured, high.false_alarms) == (60, 1, 1)
    assert (auto.threshold, auto.captured, auto.false_alarms) == (80, 0, 0)
    # with no threshold meeting the target, nothing is flagged (threshold 101)
    strict = capture_report(_history(("N0", 100, 100, True)), _dpd(customers),
                            operating_points=[], target_false_alarm_rate=0.0)
    assert strict.at_target.threshold == 101
    assert strict.at_target.false_alarms == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        capture_report(history, _dpd(customers), operating_points=[],
                       target_false_alarm_rate=1.5)


# --- capture on a real replay ------------------------------------------------------------------

def test_dpd_history_from_the_log_equals_the_simulators_truth() -> None:
    config = SimulationConfig(customers=150, days=200, seed=13)
    simulator = BankSimulator(config)
    events = list(simulator.events())
    truth = DpdHistory.from_truths(simulator.truths, start_ms=config.start_ms, days=config.days)
    for logged in (DpdHistory.from_records(events, start_ms=config.start_ms),
                   DpdHistory.from_records(events)):  # day 0: the day of the first event
        assert logged.start_ms == truth.start_ms
        assert logged.days == truth.days
        assert set(logged.customers) == set(truth.customers)
        assert {c: dict(d) for c, d in logged.dpd.items() if d} == {
            c: dict(d) for c, d in truth.dpd.items() if d}
        for customer in truth.customers:
            assert logged.outcome(customer) == truth.outcome(customer)
    assert truth.has_arrears
    assert sum(truth.outcome(c).missed_due_day is not None for c in truth.customers) > 0
    # a log without arrears statuses has no days-past-due history
    quiet = [e for e in events if e.get("kind") != "DELINQUENCY_STATUS"]
    assert not DpdHistory.from_records(quiet).has_arrears


def test_score_history_scores_every_replayed_row(trained: TrainedFixture) -> None:
    config = SimulationConfig(customers=12, days=70, seed=23)
    events = list(BankSimulator(config).events())
    rows = list(replay_events(events))
    history = score_history(trained.model, events, start_ms=config.start_ms, batch_size=50)
    assert history.rows == len(rows)
    assert [history.customer_ids[c] for c in history.customer] == [r.customer_id for r in rows]
    matrix = np.asarray([r.vector for r in rows])
    expected = trained.model.score(matrix)
    assert history.score.tolist() == expected.scores.tolist()
    assert history.current.tolist() == (~expected.arrears).tolist()
    assert history.day.tolist() == [(r.as_of - config.start_ms) // 86_400_000 for r in rows]
    assert history.day.min() >= 0
    assert history.day.max() < config.days
    one_batch = score_history(trained.model, events, start_ms=config.start_ms)  # batch 8192
    assert one_batch.customer_ids == history.customer_ids
    for name in ("customer", "day", "score", "current"):
        assert getattr(one_batch, name).tolist() == getattr(history, name).tolist()


def _reference_capture(history: ScoreHistory, dpd: DpdHistory, threshold: int,
                       warmup: int = 90, outcome_days: int = 90) -> dict[str, Any]:
    """Capture counted customer by customer, straight from the definitions."""
    flags: dict[str, list[int]] = defaultdict(list)
    for i in range(history.rows):
        day = int(history.day[i])
        if history.current[i] and history.score[i] >= threshold and day >= warmup:
            flags[history.customer_ids[history.customer[i]]].append(day)
    customers = set(dpd.customers) | set(history.customer_ids)
    leads, first_positives, first_captured, negatives, alarms = [], 0, 0, 0, 0
    positives = 0
    for customer in customers:
        by_day = dpd.dpd.get(customer, {})
        reached = sorted(d for d, v in by_day.items() if v >= 30)
        if not reached:
            negatives += 1
            alarms += any(d < dpd.days - outcome_days for d in flags[customer])
            continue
        missed = reached[0] - by_day[reached[0]]
        if missed < warmup:
            continue
        positives += 1
        early = [d for d in flags[customer] if d < missed]
        if early:
            leads.append(missed - min(early))
        first_day = min(by_day)
        first = first_day - by_day[first_day]
        if first >= warmup:
            first_positives += 1
            first_captured += any(d < first for d in flags[customer])
    contacts = {(c, (d - warmup) // 30) for c, days in flags.items() for d in days}
    return {"positives": positives, "lead_days": tuple(sorted(leads)),
            "first_miss_positives": first_positives, "first_miss_captured": first_captured,
            "negatives": negatives, "false_alarms": alarms,
            "contacts": 1000 * len(contacts) / len(customers) / ((dpd.days - warmup) / 30)}


@pytest.fixture(scope="module")
def replayed(trained: TrainedFixture, simulated: Simulated) -> ScoreHistory:
    return score_history(trained.model, simulated.events, start_ms=simulated.config.start_ms)


def test_capture_on_a_simulation_follows_the_definitions(simulated: Simulated,
                                                          replayed: ScoreHistory) -> None:
    assert replayed.current.mean() > 0.9  # most scores are of current customers
    assert not replayed.current.all()  # ... and some are on the arrears track
    for threshold in (0, 30, 60, 80):
        point = capture_at(replayed, simulated.dpd, threshold)
        expected = _reference_capture(replayed, simulated.dpd, threshold)
        assert point.positives == expected["positives"] > 0
        assert point.lead_days == expected["lead_days"]
        assert point.first_miss_positives == expected["first_miss_positives"]
        assert point.first_miss_captured == expected["first_miss_captured"]
        assert point.negatives == expected["negatives"]
        assert point.false_alarms == expected["false_alarms"]
        assert point.contacts_per_1000_month == pytest.approx(expected["contacts"])


def test_capture_on_a_simulation_is_monotone_and_meaningful(simulated: Simulated,
                                                            replayed: ScoreHistory) -> None:
    report = capture_report(replayed, simulated.dpd,
                            operating_points=[("HIGH band", 60), ("AUTO_TRIGGER_THRESHOLD", 80)])
    curve = report.curve
    # a higher threshold flags a subset: never more capture, contacts or false alarms
    for values in (curve.capture_rate, curve.contacts_per_1000_month, curve.false_alarm_rate):
        assert all(b <= a for a, b in itertools.pairwise(values))
    # threshold 0 flags every current score: nearly every customer every month, every
    # future delinquent scored while current in the window before the miss
    assert 900 <= curve.contacts_per_1000_month[0] <= 1000
    assert curve.capture_rate[0] == 1.0
    assert curve.contacts_per_1000_month[100] < 20
    # the risk-rank scale was fitted so that score 60 is reached by about 5% of current
    # customer-months and 80 by about 2% (50 and 20 contacts per 1,000 per month)
    high, auto = (point for _, point in report.operating_points)
    assert 15 <= high.contacts_per_1000_month <= 120
    assert 5 <= auto.contacts_per_1000_month <= 60
    # the lowest threshold at 5% false alarms: one lower would exceed the target
    target = report.at_target
    assert target.false_alarm_rate <= 0.05
    assert 0 < target.threshold <= 100
    assert curve.false_alarm_rate[target.threshold - 1] > 0.05
    # better than chance: a random flag reaching 5% of the negatives reaches about 5% of the
    # future delinquents
    assert target.capture_rate is not None
    assert target.capture_rate > 3 * max(target.false_alarm_rate, 0.05)
    assert all(days >= 1 for days in target.lead_days)
    assert report.customers == simulated.config.customers
    assert report.window_days == simulated.config.days - 90

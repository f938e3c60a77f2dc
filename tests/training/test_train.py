"""Training: metrics on hand-computed examples, determinism, refusals, point-in-time rows,
current-only training, the fitted score scales and the arrears table."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stream_app.features import (
    ARREARS_NOW,
    FEATURE_NAMES,
    CustomerState,
    apply_event,
    feature_index,
    feature_vector,
    in_arrears,
)
from stream_app.offline import UnknownCustomersError, replay_events, replay_points, to_event
from stream_app.scoring import (
    SCORE_EDGES,
    ArrearsAssessment,
    RiskRankScale,
    ScoreScale,
    arrears_points,
)
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from stream_app.training import (
    Dataset,
    TrainedModel,
    TrainingError,
    TrainingParams,
    build_dataset,
    build_training_data,
    classification_metrics,
    fit_contact_scale,
    model_fingerprint,
    pr_auc,
    roc_auc,
    save_trained_model,
    train_model,
    version_metadata,
)
from stream_app.training._metrics import capture_rate, ks_statistic

DAY_MS = 86_400_000


def arrays(y: list[int], p: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)


# --- metrics -----------------------------------------------------------------------------------

def test_roc_auc_hand_computed() -> None:
    # pairs (positive, negative): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4
    assert roc_auc(*arrays([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(*arrays([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(*arrays([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])) == 0.0


def test_roc_auc_counts_ties_half() -> None:
    # positive 0.5 vs negative 0.5 is a tie (1/2); the other three pairs are won -> 3.5/4
    assert roc_auc(*arrays([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])) == pytest.approx(0.875)
    assert roc_auc(*arrays([0, 1, 1, 0, 1], [0.3] * 5)) == pytest.approx(0.5)


def test_roc_auc_equals_pairwise_count_with_many_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = rng.integers(0, 6, 200) / 5.0  # only six distinct scores
    won = 0.0
    for i, j in itertools.product(np.flatnonzero(y == 1), np.flatnonzero(y == 0)):
        won += 1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0
    expected = won / (int(y.sum()) * int((y == 0).sum()))
    assert roc_auc(y, p) == pytest.approx(expected, abs=1e-12)


def test_metrics_without_both_classes_are_nan() -> None:
    assert math.isnan(roc_auc(*arrays([0, 0, 0], [0.1, 0.5, 0.9])))
    assert math.isnan(roc_auc(*arrays([1, 1], [0.1, 0.5])))
    assert math.isnan(pr_auc(*arrays([0, 0, 0], [0.1, 0.5, 0.9])))
    assert math.isnan(ks_statistic(*arrays([1, 1], [0.1, 0.5])))
    assert math.isnan(capture_rate(*arrays([0, 0], [0.1, 0.5]), 0.5))


def test_pr_auc_hand_computed() -> None:
    # ranked: +, -, +, - : precision at the positives 1/1 and 2/3 -> (1 + 2/3) / 2
    assert pr_auc(*arrays([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])) == pytest.approx(5 / 6)
    assert pr_auc(*arrays([0, 1, 0, 1], [0.9, 0.8, 0.7, 0.6])) == pytest.approx(
        (1 / 2 + 2 / 4) / 2)
    assert pr_auc(*arrays([1, 1, 0], [0.9, 0.8, 0.1])) == 1.0


def test_ks_hand_computed() -> None:
    assert ks_statistic(*arrays([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.2])) == 1.0
    # ranked +, -, +, -: TPR .5 .5 1 1, FPR 0 .5 .5 1 -> max gap .5
    assert ks_statistic(*arrays([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])) == pytest.approx(0.5)


def test_capture_rate_hand_computed() -> None:
    y = np.zeros(20, dtype=np.int64)
    y[[0, 1, 7, 15]] = 1
    p = np.linspace(1.0, 0.0, 20)  # row 0 scores highest
    assert capture_rate(y, p, 0.10) == pytest.approx(2 / 4)  # top 2 rows: both positive
    assert capture_rate(y, p, 0.05) == pytest.approx(1 / 4)  # top row
    assert capture_rate(y, p, 0.40) == pytest.approx(3 / 4)  # top 8 rows
    assert capture_rate(y, p, 1.0) == 1.0
    assert capture_rate(y, p, 0.001) == pytest.approx(1 / 4)  # at least one row


def test_classification_metrics_bundle() -> None:
    y, p = arrays([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    metrics = classification_metrics(y, p)
    assert metrics["rows"] == 4
    assert metrics["positives"] == 2
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx((0.01 + 0.16 + 0.65**2 + 0.04) / 4)
    assert set(metrics) >= {"pr_auc", "ks", "capture_top5pct", "capture_top10pct"}


# --- training ----------------------------------------------------------------------------------

class Training:
    """A simulation with its labels and arrears points, replayed for both tracks."""

    def __init__(self) -> None:
        self.config = SimulationConfig(customers=600, days=240, seed=5)
        simulator = BankSimulator(self.config)
        self.events = list(simulator.events())
        self.truths = simulator.truths
        self.labels = labels_from_truth(self.truths, start_ms=self.config.start_ms,
                                        days=self.config.days)
        self.arrears = arrears_points({t.customer_id: t.dpd_by_day for t in self.truths},
                                      start_ms=self.config.start_ms, days=self.config.days)
        self.dataset, self.assessment = build_training_data(self.events, self.labels,
                                                            self.arrears)


@pytest.fixture(scope="module")
def training() -> Training:
    return Training()


@pytest.fixture(scope="module")
def small_dataset(training: Training) -> Dataset:
    return training.dataset


@pytest.fixture(scope="module")
def small_model(small_dataset: Dataset) -> TrainedModel:
    return train_model(small_dataset, TrainingParams(iterations=30, seed=1))


def test_training_is_deterministic_for_a_seed(small_dataset: Dataset) -> None:
    labels = small_dataset.labels
    assert 0 < labels.sum() < len(labels)
    params = TrainingParams(iterations=40, seed=1)
    first = train_model(small_dataset, params)
    second = train_model(small_dataset, params)
    assert model_fingerprint(first.model) == model_fingerprint(second.model)
    assert first.metrics == second.metrics
    assert first.dataset_fingerprint == second.dataset_fingerprint == small_dataset.fingerprint()
    other_seed = train_model(small_dataset, TrainingParams(iterations=40, seed=2))
    assert model_fingerprint(other_seed.model) != model_fingerprint(first.model)
    # every row is in one part, and the validation metrics are computed
    rows = sum(first.metrics[part]["rows"] for part in ("train", "validation", "out_of_time"))
    assert rows == len(labels)
    assert first.metrics["validation"]["positives"] > 0


def test_training_reports_iterations(small_dataset: Dataset) -> None:
    seen: list[tuple[int, int]] = []
    train_model(small_dataset, TrainingParams(iterations=5, early_stopping_rounds=100, seed=1),
                on_iteration=lambda i, total: seen.append((i, total)))
    assert seen
    assert all(total == 5 for _, total in seen)
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)


def _dataset(labels: list[int]) -> Dataset:
    """Random current rows (nothing past due) with the given labels."""
    n = len(labels)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(n, len(FEATURE_NAMES)))
    features[:, list(ARREARS_NOW)] = 0.0
    return Dataset(features, np.asarray(labels, dtype=np.int64),
                   [f"CUST-{i:07d}" for i in range(n)], np.full(n, 1_767_225_600_000))


def test_labels_without_positives_are_refused() -> None:
    with pytest.raises(TrainingError, match="positive"):
        train_model(_dataset([0] * 50), TrainingParams(iterations=5))


def test_labels_without_negatives_are_refused() -> None:
    with pytest.raises(TrainingError, match="negative"):
        train_model(_dataset([1] * 50), TrainingParams(iterations=5))


def test_positives_on_one_side_of_the_split_only_are_refused() -> None:
    with pytest.raises(TrainingError, match="split"):
        train_model(_dataset([1] + [0] * 60), TrainingParams(iterations=5))


def test_labels_all_in_arrears_are_refused() -> None:
    dataset = _dataset([1, 0] * 30)
    dataset.features[:, feature_index("dpd_current")] = 3
    with pytest.raises(TrainingError, match="every labelled point is in arrears"):
        train_model(dataset, TrainingParams(iterations=5))


def test_empty_labels_are_refused() -> None:
    with pytest.raises(TrainingError, match="no labelled points"):
        build_dataset([], [])
    with pytest.raises(TrainingError, match="no labelled points"):
        build_training_data([], [])


# --- point-in-time dataset ---------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    customer_id: str
    as_of: int
    label: int


@pytest.fixture(scope="module")
def log() -> tuple[list[dict[str, Any]], int]:
    config = SimulationConfig(customers=8, days=120, seed=9)
    return list(BankSimulator(config).events()), config.start_ms


def test_build_dataset_is_point_in_time(log: tuple[list[dict[str, Any]], int]) -> None:
    events, start = log
    customers = sorted({e["customer_id"] for e in events})
    as_of = start + 70 * DAY_MS - 1
    labels = [Label(c, as_of, i % 2) for i, c in enumerate(customers)]
    # the day after as_of each customer has a dramatic day (a would-be leak)
    shock = [{**_gambling_loss(c, as_of + DAY_MS // 2), "event_id": f"shock-{c}"}
             for c in customers]
    full = [e for e in events if e["occurred_at"] <= as_of] + shock + [
        e for e in events if e["occurred_at"] > as_of]
    truncated = [e for e in events if e["occurred_at"] <= as_of]

    with_future = build_dataset(full, labels)
    without = build_dataset(truncated, labels)
    assert sorted(with_future.customers) == sorted(without.customers) == customers
    rows_without = {c: without.features[i].tolist() for i, c in enumerate(without.customers)}
    for i, customer in enumerate(with_future.customers):  # rows come in replay order
        assert with_future.features[i].tolist() == rows_without[customer]
        assert with_future.labels[i] == labels[customers.index(customer)].label
        assert with_future.as_of[i] == as_of
    # and equal to the stream's code applied to exactly the events up to as_of
    for row, customer in enumerate(without.customers):
        state = CustomerState()
        for record in truncated:
            if record["customer_id"] == customer:
                apply_event(state, to_event(record))
        assert without.features[row].tolist() == feature_vector(state, as_of)
    # the shock is visible once as_of is past it (the comparison can fail)
    later = [Label(c, as_of + DAY_MS, 0) for c in customers]
    after = build_dataset(full, later)
    for i, customer in enumerate(after.customers):
        assert after.features[i].tolist() != rows_without[customer]


def _gambling_loss(customer: str, ts: int) -> dict[str, Any]:
    return {"type": "transaction", "customer_id": customer, "account_id": "CA-X",
            "occurred_at": ts, "amount_minor": 900_000, "currency": "EUR",
            "direction": "DEBIT", "channel": "CARD", "category": "GAMBLING", "status": "POSTED",
            "balance_after_minor": -850_000}


def test_several_points_of_one_customer_each_see_only_their_past(
        log: tuple[list[dict[str, Any]], int]) -> None:
    events, start = log
    customer = events[0]["customer_id"]
    points = [Label(customer, start + d * DAY_MS - 1, 0) for d in (90, 30, 60)]
    rows = {p.as_of: vector for p, vector in replay_points(events, points)}
    for point in points:
        alone = dict(replay_points([e for e in events if e["occurred_at"] <= point.as_of],
                                   [point]))
        assert rows[point.as_of] == alone[point]
    assert len({tuple(v) for v in rows.values()}) == 3


def test_unknown_customer_raises(log: tuple[list[dict[str, Any]], int]) -> None:
    events, start = log
    known = events[0]["customer_id"]
    points = [Label(known, start + 50 * DAY_MS, 1), Label("CUST-9999999", start + 50 * DAY_MS, 0)]
    with pytest.raises(UnknownCustomersError) as error:
        list(replay_points(events, points))
    assert error.value.customers == ["CUST-9999999"]
    # allowed explicitly: the unknown customer gets the cold-start vector
    rows = dict(replay_points(events, points, require_known_customers=False))
    assert rows[points[1]] == feature_vector(CustomerState(), points[1].as_of)
    assert rows[points[0]] != rows[points[1]]


def test_trained_model_keeps_its_row_split(small_dataset: Dataset,
                                           small_model: TrainedModel) -> None:
    trained = small_model
    parts = [trained.rows[name] for name in ("train", "validation", "out_of_time")]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(small_dataset.labels)))
    for name, rows in trained.rows.items():
        assert len(rows) == trained.split["rows"][name]
    validation = small_dataset.subset(trained.rows["validation"])
    assert validation.labels.tolist() == small_dataset.labels[trained.rows["validation"]].tolist()
    assert validation.customers == [small_dataset.customers[i] for i in trained.rows["validation"]]
    training_customers = {small_dataset.customers[i] for i in trained.rows["train"]}
    assert training_customers.isdisjoint(validation.customers)


def test_saved_version_matches_its_preview_and_stores_extra_files(
        small_model: TrainedModel, tmp_path: Path) -> None:
    import datetime as dt

    from model_registry import open_version

    trained = small_model
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    name, metadata = version_metadata(trained, extra_metadata={"note": "x"}, now=now)
    saved = save_trained_model(tmp_path, trained, extra_metadata={"note": "x"}, now=now,
                               extra_files={"report.md": b"# hi\n", "plots/a.png": b"png"})
    assert saved.version == name
    assert saved.metadata == metadata
    opened = open_version(saved.path)  # verifies every checksum
    assert opened.metadata == metadata
    sums = (saved.path / "SHA256SUMS").read_text()
    assert "  report.md\n" in sums
    assert "  plots/a.png\n" in sums
    assert (saved.path / "plots" / "a.png").read_bytes() == b"png"
    assert metadata["track"] == "PRE_DELINQUENCY"
    assert ScoreScale.from_metadata(metadata["score_scale"]) == trained.scale
    assert ArrearsAssessment.from_metadata(metadata["arrears_assessment"]) == trained.arrears
    assert metadata["split"]["arrears_rows_dropped"] == 0


# --- both tracks' data from one replay ---------------------------------------------------------

def test_build_training_data_gives_the_labelled_rows_and_the_arrears_table(
        training: Training) -> None:
    dataset, table = training.dataset, training.assessment
    # the labelled rows are build_dataset's, all current (labels are taken where current)
    alone = build_dataset(training.events, training.labels)
    assert dataset.fingerprint() == alone.fingerprint()
    assert not in_arrears(dataset.features).any()
    # the table counts the arrears points whose features agree they are past due
    vectors = dict(replay_points(training.events, training.arrears))
    agreeing = [p for p in training.arrears if in_arrears(np.asarray([vectors[p]]))[0]]
    assert len(agreeing) >= 0.8 * len(training.arrears) > 50
    assert sum(a + b for a, b in table.counts) == len(agreeing)
    by_bucket = [0, 0, 0, 0]
    for point in agreeing:  # 1-29, 30-59, 60-89, 90+
        by_bucket[min(3, point.days_past_due // 30)] += 1
    assert [a + b for a, b in table.counts] == by_bucket
    # from 1-29 DPD far fewer roll to 30 within a month than cure (the simulated bank's
    # customers mostly catch up), and the table is not the prior
    assert table.roll[0][0] < table.cure[0][0]
    assert table != ArrearsAssessment.prior()
    # without arrears points: the prior
    _, prior = build_training_data(training.events, training.labels[:50])
    assert prior == ArrearsAssessment.prior()


def _with_arrears_rows(dataset: Dataset) -> tuple[Dataset, list[int]]:
    """Every 7th row followed by a copy in arrears (labelled 1)."""
    order: list[int] = []
    arrears_copies: list[int] = []
    features = []
    for i in range(len(dataset.labels)):
        order.append(i)
        features.append(dataset.features[i])
        if i % 7 == 3:
            copy = dataset.features[i].copy()
            copy[feature_index("dpd_current")] = 8
            arrears_copies.append(len(order))
            order.append(i)
            features.append(copy)
    labels = dataset.labels[order].copy()
    labels[arrears_copies] = 1
    return Dataset(np.asarray(features), labels, [dataset.customers[i] for i in order],
                   dataset.as_of[order]), arrears_copies


def test_train_model_drops_arrears_rows(small_dataset: Dataset,
                                        small_model: TrainedModel) -> None:
    mixed, copies = _with_arrears_rows(small_dataset)
    trained = train_model(mixed, TrainingParams(iterations=30, seed=1))
    assert trained.split["arrears_rows_dropped"] == len(copies) > 100
    # the model is the one trained on the current rows alone
    assert trained.dataset_fingerprint == small_dataset.fingerprint()
    assert model_fingerprint(trained.model) == model_fingerprint(small_model.model)
    assert trained.metrics == small_model.metrics
    # TrainedModel.rows index the caller's dataset, and never an arrears row
    parts = np.concatenate([trained.rows[name] for name in ("train", "validation",
                                                            "out_of_time")])
    current = np.flatnonzero(~in_arrears(mixed.features))
    assert sorted(parts.tolist()) == current.tolist()
    assert not set(parts.tolist()) & set(copies)
    for name in ("train", "validation", "out_of_time"):
        ours = mixed.subset(trained.rows[name])
        theirs = small_dataset.subset(small_model.rows[name])
        assert ours.fingerprint() == theirs.fingerprint(), name


def _probabilities(trained: TrainedModel, features: np.ndarray) -> np.ndarray:
    raw = trained.model.predict(features, prediction_type="RawFormulaVal")
    result: np.ndarray = trained.calibration.apply(raw)
    return result


def _assert_anchors_hold(scale: RiskRankScale, population: np.ndarray) -> None:
    assert scale.knots[0][0] == pytest.approx(population.min(), rel=1e-9)
    assert scale.knots[-1][0] == pytest.approx(population.max(), rel=1e-9)
    for (share, score), (probability, knot_score) in zip(scale.anchors, scale.knots[1:-1],
                                                         strict=True):
        assert knot_score == score
        # the anchor's probability is the population's quantile: `share` of it lies at or
        # above (ties at the quantile all count), and no more than `share` strictly above
        assert np.mean(population >= probability * (1 - 1e-9)) >= share
        assert np.mean(population > probability * (1 + 1e-9)) <= share
        assert scale.scores(np.asarray([probability * (1 + 1e-9)]))[0] >= score


def test_the_fitted_scale_holds_its_anchors_on_the_in_time_rows(
        small_dataset: Dataset, small_model: TrainedModel) -> None:
    scale = small_model.scale
    assert isinstance(scale, RiskRankScale)
    in_time = np.concatenate([small_model.rows["train"], small_model.rows["validation"]])
    assert scale.population_rows == len(in_time)
    assert scale.unit == "rows"
    probabilities = _probabilities(small_model, small_dataset.features[in_time])
    _assert_anchors_hold(scale, probabilities)
    # the drift baseline is the in-time rows' scores on this scale: at least 20% at 30 or more
    # and 2% at 80 or more
    _assert_score_baseline(small_model, scale.scores(probabilities))
    shares = small_model.baseline["score"]["shares"]
    assert SCORE_EDGES[5] == 30
    assert SCORE_EDGES[8] == 80
    assert sum(shares[6:]) >= 0.2
    assert sum(shares[9:]) >= 0.02


def _assert_score_baseline(trained: TrainedModel, scores: np.ndarray) -> None:
    bins = np.searchsorted(SCORE_EDGES, scores, side="right")
    expected = np.bincount(bins, minlength=len(SCORE_EDGES) + 1) / len(scores)
    assert trained.baseline["score"]["edges"] == SCORE_EDGES
    assert trained.baseline["score"]["shares"] == pytest.approx(expected.tolist())


def _customer_months(trained: TrainedModel, events: list[dict[str, Any]],
                     customers: set[str], min_history_days: float = 90.0) -> np.ndarray:
    """Each customer's highest probability while current in every 30-day period (epoch
    aligned) of its stream scores, once it has 90 days of history."""
    rows = [r for r in replay_events(e for e in events if e["customer_id"] in customers)
            if r.vector[feature_index("history_days")] >= min_history_days]
    matrix = np.asarray([r.vector for r in rows])
    probabilities = _probabilities(trained, matrix)
    maxima: dict[tuple[str, int], float] = {}
    for row, p, arrears in zip(rows, probabilities, in_arrears(matrix), strict=True):
        key = (row.customer_id, row.as_of // (30 * DAY_MS))
        if not arrears:
            maxima[key] = max(maxima.get(key, 0.0), float(p))
    return np.asarray(list(maxima.values()))


def test_fit_contact_scale_is_fitted_on_validation_customer_months(
        training: Training, small_model: TrainedModel) -> None:
    dataset = training.dataset
    refitted = fit_contact_scale(small_model, dataset, training.events)
    scale = refitted.scale
    assert isinstance(scale, RiskRankScale)
    assert scale.unit == "customer-months"
    validation = {dataset.customers[int(i)] for i in small_model.rows["validation"]}
    training_customers = {dataset.customers[int(i)] for i in small_model.rows["train"]}
    assert validation.isdisjoint(training_customers)
    population = _customer_months(small_model, training.events, validation)
    # about one customer-month per customer per 30 days after the first 90
    months = (training.config.days - 90) / 30
    assert 0.8 * months * len(validation) <= len(population) <= (months + 1) * len(validation)
    assert scale.population_rows == len(population)
    _assert_anchors_hold(scale, population)
    assert refitted.split["score_scale_population"] == (
        f"{len(population):,} customer-months of {len(validation):,} customers' stream scores")
    # the trees, calibration and split are the trained model's
    assert refitted.model is small_model.model
    assert refitted.calibration == small_model.calibration
    assert {k: v.tolist() for k, v in refitted.rows.items()} == {
        k: v.tolist() for k, v in small_model.rows.items()}
    # the drift baseline follows the new scale (the in-time labelled rows' scores on it)
    in_time = np.concatenate([small_model.rows["train"], small_model.rows["validation"]])
    _assert_score_baseline(refitted, scale.scores(
        _probabilities(small_model, dataset.features[in_time])))
    # a customer-month is a customer's highest score over 30 days: the probability that 5%
    # of customer-months reach is above the one 5% of single labelled days reach
    assert scale.anchors[1] == small_model.scale.anchors[1] == (0.05, 60)  # type: ignore[union-attr]
    assert scale.knots[2][0] > small_model.scale.knots[2][0]  # type: ignore[union-attr]


def test_fit_contact_scale_on_other_customers(training: Training,
                                              small_model: TrainedModel) -> None:
    dataset = training.dataset
    # a few training customers (not the default validation ones): a short replay
    chosen = set(sorted({dataset.customers[int(i)] for i in small_model.rows["train"]})[:25])
    refitted = fit_contact_scale(small_model, dataset, training.events, customers=chosen)
    population = _customer_months(small_model, training.events, chosen)
    assert refitted.scale is not None
    assert refitted.scale.population_rows == len(population)
    # nobody to replay: the labelled points' scale is kept
    kept = fit_contact_scale(small_model, dataset, training.events, customers=["NOBODY"])
    assert kept.scale == small_model.scale


def test_arrears_points_ride_along_into_the_model(training: Training) -> None:
    trained = train_model(training.dataset, TrainingParams(iterations=10, seed=1),
                          arrears=training.assessment)
    assert trained.arrears == training.assessment
    _, metadata = version_metadata(trained)
    assert metadata["arrears_assessment"]["counts"] == [list(c)
                                                         for c in training.assessment.counts]
    assert train_model(training.dataset, TrainingParams(iterations=10, seed=1)).arrears == \
        ArrearsAssessment.prior()

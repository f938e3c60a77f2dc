"""Training: metrics on hand-computed examples, determinism, refusals, point-in-time rows."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stream_app.features import FEATURE_NAMES, CustomerState, apply_event, feature_vector
from stream_app.offline import UnknownCustomersError, replay_points, to_event
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from stream_app.training import (
    Dataset,
    TrainingError,
    TrainingParams,
    build_dataset,
    classification_metrics,
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

@pytest.fixture(scope="module")
def small_dataset() -> Dataset:
    config = SimulationConfig(customers=300, days=160, seed=5)
    simulator = BankSimulator(config)
    events = list(simulator.events())
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
    return build_dataset(events, labels)


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
    # the split is customer-disjoint and the validation metrics are computed
    assert first.metrics["train"]["rows"] + first.metrics["validation"]["rows"] == len(labels)
    assert first.metrics["validation"]["positives"] > 0


def test_training_reports_iterations(small_dataset: Dataset) -> None:
    seen: list[tuple[int, int]] = []
    train_model(small_dataset, TrainingParams(iterations=5, early_stopping_rounds=100, seed=1),
                on_iteration=lambda i, total: seen.append((i, total)))
    assert seen
    assert all(total == 5 for _, total in seen)
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)


def _dataset(labels: list[int]) -> Dataset:
    n = len(labels)
    rng = np.random.default_rng(0)
    return Dataset(rng.normal(size=(n, len(FEATURE_NAMES))), np.asarray(labels, dtype=np.int64),
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


def test_empty_labels_are_refused() -> None:
    with pytest.raises(TrainingError, match="no labelled points"):
        build_dataset([], [])


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


def test_trained_model_keeps_its_row_split(small_dataset: Dataset) -> None:
    trained = train_model(small_dataset, TrainingParams(iterations=20, seed=1))
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
        small_dataset: Dataset, tmp_path: Path) -> None:
    import datetime as dt

    from model_registry import open_version

    trained = train_model(small_dataset, TrainingParams(iterations=20, seed=1))
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

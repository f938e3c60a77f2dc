"""ScoringModel: numpy tree evaluation and leaf-SHAP tables against CatBoost and shap."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from model_registry import METADATA_FILE, MODEL_FILE, RegistryError, write_version
from stream_app.features import FEATURE_NAMES, FEATURES, feature_index, in_arrears
from stream_app.scoring import (
    ArrearsAssessment,
    IncompatibleModelError,
    ProbabilityScale,
    RiskRankScale,
    ScoringModel,
    hardship,
    probability_to_score,
)
from tests.support.models import TrainedFixture

ROWS = 1500


@pytest.fixture(scope="module")
def catboost_model(trained: TrainedFixture) -> object:
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(str(trained.path / "model.cbm"))
    return model


def _magnitude(unit: str, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """Plausible values for a feature of this unit (including negative balances)."""
    if unit.startswith("minor units"):
        return np.round(rng.normal(0, 1, n) * 10 ** rng.uniform(2, 6.5, n))
    if unit in ("count", "days", "statements"):
        return np.floor(rng.exponential(8, n))
    if unit == "flag":
        return rng.integers(0, 2, n).astype(np.float64)
    return rng.normal(1, 1.2, n)  # ratios, shares and their differences


@pytest.fixture(scope="module")
def rows(trained: TrainedFixture) -> npt.NDArray[np.float64]:
    """Random rows: realistic magnitudes, zeros, and values on and beside split borders."""
    rng = np.random.default_rng(20260101)
    forest = trained.model.forest
    x = np.empty((ROWS, len(FEATURE_NAMES)))
    for column, spec in enumerate(FEATURES):
        used = forest.split_borders[(forest.split_features == column)
                                    & np.isfinite(forest.split_borders)]
        borders = np.unique(used).astype(np.float64)
        values = _magnitude(spec.unit, rng, ROWS)
        kind = rng.integers(0, 5, ROWS)
        values[kind == 0] = 0.0
        if borders.size:
            on = rng.choice(borders, ROWS)
            beside = np.nextafter(on.astype(np.float32),
                                  np.where(rng.random(ROWS) < 0.5, np.inf, -np.inf)
                                  .astype(np.float32)).astype(np.float64)
            spread = np.ptp(borders) + 1.0
            between = rng.uniform(borders.min() - spread / 4, borders.max() + spread / 4, ROWS)
            values = np.where(kind == 1, on, values)
            values = np.where(kind == 2, beside, values)
            values = np.where(kind == 3, between, values)
        x[:, column] = values
    return x


def test_rows_exercise_many_leaves(trained: TrainedFixture,
                                   rows: npt.NDArray[np.float64]) -> None:
    leaves = trained.model.forest.leaf_indexes(rows)
    distinct = [len(np.unique(leaves[:, t])) for t in range(leaves.shape[1])]
    assert min(distinct) >= 2
    assert np.mean(distinct) >= 8


def test_leaf_indexes_equal_catboost(trained: TrainedFixture, catboost_model: object,
                                     rows: npt.NDArray[np.float64]) -> None:
    from catboost import Pool

    theirs = catboost_model.calc_leaf_indexes(Pool(rows))  # type: ignore[attr-defined]
    ours = trained.model.forest.leaf_indexes(rows)
    assert ours.shape == theirs.shape == (ROWS, trained.model.forest.n_trees)
    np.testing.assert_array_equal(ours, theirs)


def test_raw_scores_and_probabilities_equal_catboost(trained: TrainedFixture,
                                                     catboost_model: object,
                                                     rows: npt.NDArray[np.float64]) -> None:
    model = trained.model
    raw = model.forest.raw_scores(model.forest.leaf_indexes(rows))
    theirs = catboost_model.predict(rows, prediction_type="RawFormulaVal")  # type: ignore[attr-defined]
    assert np.max(np.abs(raw - theirs)) <= 1e-9
    scored = model.score(rows)
    # the pre-delinquency probability is CatBoost's log-odds through the stored Platt
    # calibration, on every row (whatever its track)
    a, b = model.calibration.a, model.calibration.b
    assert (a, b) != (1.0, 0.0)  # a trained model carries a fitted calibration
    proba = 1.0 / (1.0 + np.exp(-(a * theirs + b)))
    assert np.max(np.abs(scored.pre_probabilities - proba)) <= 1e-9
    # on current rows it is the published probability, and the score its risk rank
    current = ~in_arrears(rows)
    assert 100 < current.sum() < ROWS  # the random rows have both tracks
    assert np.max(np.abs(scored.probabilities[current] - proba[current])) <= 1e-9
    assert isinstance(model.scale, RiskRankScale)
    assert scored.scores[current].tolist() == model.scale.scores(proba[current]).tolist()
    assert scored.scores.dtype.kind == "i"
    assert ((scored.scores >= 0) & (scored.scores <= 100)).all()
    assert len(np.unique(scored.scores[current])) > 5  # the rows are not all scored alike


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # shap's plotting colours
def test_shap_contributions_equal_shap_tree_explainer(trained: TrainedFixture,
                                                      catboost_model: object,
                                                      rows: npt.NDArray[np.float64]) -> None:
    import shap

    explainer = shap.TreeExplainer(catboost_model)
    reference = np.asarray(explainer.shap_values(rows))
    scored = trained.model.score(rows)
    assert scored.contributions.shape == reference.shape == (ROWS, len(FEATURE_NAMES))
    assert np.max(np.abs(scored.contributions - reference)) <= 1e-9
    assert abs(trained.model.expected_value - float(explainer.expected_value)) <= 1e-9
    assert np.count_nonzero(np.abs(reference) > 1e-6) > ROWS  # not a trivial comparison


def test_shap_contributions_are_additive(trained: TrainedFixture,
                                         rows: npt.NDArray[np.float64]) -> None:
    model = trained.model
    scored = model.score(rows)
    raw = model.forest.raw_scores(model.forest.leaf_indexes(rows))
    total = scored.contributions.sum(axis=1) + model.expected_value
    assert np.max(np.abs(total - raw)) <= 1e-9


def test_scoring_a_batch_equals_scoring_rows_one_by_one(trained: TrainedFixture,
                                                        rows: npt.NDArray[np.float64]) -> None:
    batch = trained.model.score(rows[:300])  # crosses the 128-row chunks
    for i in (0, 127, 128, 129, 255, 256, 299):
        single = trained.model.score(rows[i : i + 1])
        assert single.scores[0] == batch.scores[i]
        np.testing.assert_allclose(single.contributions[0], batch.contributions[i], rtol=0,
                                   atol=1e-12)


@pytest.mark.parametrize(("probability", "score"), [
    (0.0, 0), (0.004999, 0), (0.005, 1), (0.4949, 49), (0.5, 50), (0.995, 100), (1.0, 100),
])
def test_probability_to_score_rounds_half_up(probability: float, score: int) -> None:
    assert probability_to_score(probability) == score


# --- the two tracks -------------------------------------------------------------------------

_DPD = feature_index("dpd_current")
_PAST_DUE = feature_index("amount_past_due_minor")
_SALARY_MISSED = feature_index("salary_missed")


def _normal_customers(n: int) -> npt.NDArray[np.float64]:
    """Current customers with a normal income (no hardship)."""
    x = np.zeros((n, len(FEATURE_NAMES)))
    for name, value in (("history_days", 200), ("income_30d_minor", 250_000),
                        ("income_60d_minor", 500_000), ("income_drop_ratio", 1.0),
                        ("balance_close_minor", 80_000), ("runway_days", 40)):
        x[:, feature_index(name)] = value
    return x


def test_score_puts_each_row_on_its_track(trained: TrainedFixture) -> None:
    model = trained.model
    x = _normal_customers(6)
    x[1, _DPD] = 12  # 1-29 DPD
    x[2, _DPD] = 45  # 30-59 DPD, with hardship
    x[2, _SALARY_MISSED] = 1
    x[3, _PAST_DUE] = 7_500  # unpaid before the arrears run reported it: 1-29 DPD
    x[4, _DPD] = 95
    # row 0 and row 5 are current
    scored = model.score(x)
    assert scored.arrears.tolist() == [False, True, True, True, True, False]
    assert scored.tracks == ["PRE_DELINQUENCY", "ARREARS", "ARREARS", "ARREARS", "ARREARS",
                             "PRE_DELINQUENCY"]
    table = trained.model.metadata["arrears_assessment"]
    assert table["method"] == "roll_rate_table"
    roll, cure = table["roll"], table["cure"]
    # [bucket][segment]: no hardship 0, hardship 1
    expected_roll = [roll[0][0], roll[1][1], roll[0][0], roll[3][0]]
    expected_cure = [cure[0][0], cure[1][1], cure[0][0], cure[3][0]]
    arrears = [1, 2, 3, 4]
    assert scored.roll[arrears].tolist() == pytest.approx(expected_roll, abs=1e-12)
    assert scored.cure[arrears].tolist() == pytest.approx(expected_cure, abs=1e-12)
    # on the arrears track the probability is the roll probability, the score round(100 roll)
    assert scored.probabilities[arrears].tolist() == pytest.approx(expected_roll, abs=1e-12)
    assert scored.scores[arrears].tolist() == [math.floor(100 * r + 0.5) for r in expected_roll]
    assert scored.hardship.tolist() == [False, False, True, False, False, False]
    assert scored.days_past_due.tolist() == [0, 12, 45, 0, 95, 0]
    # current rows: the pre-delinquency probability on the model's scale, no roll or cure
    current = [0, 5]
    assert np.isnan(scored.roll[current]).all()
    assert np.isnan(scored.cure[current]).all()
    assert scored.probabilities[current].tolist() == scored.pre_probabilities[current].tolist()
    assert scored.scores[current].tolist() == model.scale.scores(
        scored.pre_probabilities[current]).tolist()
    # the pre-delinquency model still scores the arrears rows (pre_probabilities), and the
    # arrears rows' scores do not depend on it
    assert np.isfinite(scored.pre_probabilities).all()


def test_arrears_scores_come_from_the_roll_table_not_the_trees(trained: TrainedFixture,
                                                                rows: npt.NDArray[np.float64]
                                                                ) -> None:
    model = trained.model
    arrears = in_arrears(rows)
    scored = model.score(rows)
    assert scored.arrears.tolist() == arrears.tolist()
    roll, cure, _ = model.arrears.assess(rows)
    assert scored.roll[arrears].tolist() == roll[arrears].tolist()
    assert scored.cure[arrears].tolist() == cure[arrears].tolist()
    assert scored.probabilities[arrears].tolist() == roll[arrears].tolist()
    assert scored.scores[arrears].tolist() == [probability_to_score(r) for r in roll[arrears]]
    assert scored.hardship.tolist() == hardship(rows).tolist()
    # the arrears table has a handful of cells: the arrears scores take only their values
    assert len(np.unique(scored.scores[arrears])) <= 8


def test_reasons_follow_the_track(trained: TrainedFixture,
                                  rows: npt.NDArray[np.float64]) -> None:
    from stream_app.scoring import arrears_reasons, top_reasons

    model = trained.model
    scored = model.score(rows[:200])
    reasons = model.reasons(scored, rows[:200])
    pre = top_reasons(scored.contributions, rows[:200])
    arrears_rows = np.flatnonzero(scored.arrears)
    from_table = arrears_reasons(model.arrears, rows[:200][arrears_rows])
    assert len(arrears_rows) > 10
    for i in range(200):
        if scored.arrears[i]:
            expected = from_table[list(arrears_rows).index(i)]
            assert reasons[i] == expected
            assert reasons[i][0].code == "R_PAST_DUE"  # the bucket comes first
        else:
            assert reasons[i] == pre[i]
            assert not {r.feature for r in reasons[i]} & {
                "dpd_current", "products_in_arrears", "amount_past_due_minor"}


def test_a_model_without_scale_or_table_scores_round_100_p_and_the_prior(
        trained: TrainedFixture, tmp_path: Path) -> None:
    path = _copy_version(trained.path, tmp_path, "older",
                         {"score_scale": None, "arrears_assessment": None})
    model = ScoringModel.load(path)
    assert isinstance(model.scale, ProbabilityScale)
    assert model.arrears == ArrearsAssessment.prior()
    x = _normal_customers(2)
    x[1, _DPD] = 40  # 30-59: the prior rolls with 0.45
    scored = model.score(x)
    assert scored.scores[0] == probability_to_score(scored.probabilities[0])
    assert scored.probabilities[1] == pytest.approx(0.45)
    assert scored.scores[1] == 45


# --- loading ---------------------------------------------------------------------------------

def _copy_version(source: Path, registry: Path, version: str, metadata_edit: dict[str, object]
                  ) -> Path:
    metadata = json.loads((source / METADATA_FILE).read_text())
    metadata.update(metadata_edit)
    written = write_version(registry, version,
                            lambda path: shutil.copyfile(source / MODEL_FILE, path), metadata)
    return written.path


def test_load_accepts_a_faithful_copy(trained: TrainedFixture, tmp_path: Path) -> None:
    path = _copy_version(trained.path, tmp_path, "copy", {})
    model = ScoringModel.load(path)
    assert model.version == "copy"
    assert model.feature_code_matches
    rows = np.zeros((3, len(FEATURE_NAMES)))
    np.testing.assert_array_equal(model.score(rows).scores, trained.model.score(rows).scores)


@pytest.mark.parametrize("names", [
    [*FEATURE_NAMES[1:], FEATURE_NAMES[0]],  # same features, other column order
    list(FEATURE_NAMES[:-1]),  # one feature missing
    [*FEATURE_NAMES, "new_feature"],
    None,
])
def test_load_refuses_other_feature_names(trained: TrainedFixture, tmp_path: Path,
                                          names: list[str] | None) -> None:
    path = _copy_version(trained.path, tmp_path, "other-features", {"feature_names": names})
    with pytest.raises(IncompatibleModelError, match="feature"):
        ScoringModel.load(path)


def test_load_refuses_edited_metadata_without_checksums(trained: TrainedFixture,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "tampered"
    shutil.copytree(trained.path, target)
    metadata = json.loads((target / METADATA_FILE).read_text())
    metadata["feature_names"] = list(reversed(metadata["feature_names"]))
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(RegistryError):
        ScoringModel.load(target)


def test_load_refuses_a_damaged_model_file(trained: TrainedFixture, tmp_path: Path) -> None:
    metadata = json.loads((trained.path / METADATA_FILE).read_text())
    path = write_version(tmp_path, "damaged",
                         lambda p: p.write_bytes(b"not a catboost model"), metadata).path
    with pytest.raises(RegistryError):
        ScoringModel.load(path)


def test_load_uses_the_bytes_it_verified_not_a_second_read(
        trained: TrainedFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the checksum check and CatBoost reading the model, someone with write access
    to the registry swaps model.cbm for another valid model: the worker must still run the
    verified one (it loads the very bytes it hashed)."""
    from catboost import CatBoostClassifier

    target = tmp_path / "v"
    shutil.copytree(trained.path, target)
    rng = np.random.default_rng(5)
    other = CatBoostClassifier(iterations=2, depth=2, verbose=False, allow_writing_files=False)
    other.fit(rng.normal(size=(64, len(FEATURE_NAMES))), np.arange(64) % 2)
    swapped = tmp_path / "swapped.cbm"
    other.save_model(str(swapped))
    original = CatBoostClassifier.load_model

    def swap_then_load(self: CatBoostClassifier, *args: object, **kwargs: object) -> object:
        shutil.copyfile(swapped, target / MODEL_FILE)  # after verification, before loading
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CatBoostClassifier, "load_model", swap_then_load)
    loaded = ScoringModel.load(target)
    assert (target / MODEL_FILE).read_bytes() == swapped.read_bytes()  # the swap happened
    assert loaded.forest.n_trees == trained.model.forest.n_trees != 2
    probe = np.abs(rng.normal(0, 1e3, size=(32, len(FEATURE_NAMES))))
    np.testing.assert_array_equal(loaded.score(probe).scores, trained.model.score(probe).scores)

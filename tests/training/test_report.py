"""The evaluation report: report.md, its four PNG plots, and the files saved with a version."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from stream_app.training import (
    Detection,
    Evaluation,
    LeadTimes,
    ReasonCount,
    calibration_table,
    classification_metrics,
    precision_recall_curve,
    roc_curve,
)
from stream_app.training._report import render_report, report_files, write_report
from tests.support.models import TrainedFixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = {"plots/roc.png", "plots/precision_recall.png", "plots/calibration.png",
         "plots/reason_codes.png"}


def _evaluation(*, flagged: bool = True, lead: bool = True) -> Evaluation:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1)
    reasons = (ReasonCount("R_PAST_DUE", "A credit product is currently past due", 30, 0.75),
               ReasonCount("R_LOW_INCOME", "Income credited in the last 30 days is low", 12,
                           0.3)) if flagged else ()
    lead_times = LeadTimes(
        threshold_dpd=30, target_false_alarm_rate=0.05, customers=600, rows_scored=213_712,
        at_target=Detection("false-alarm rate <= 5%", 47, 576, 26, 24, (10, 17, 23, 30)),
        at_high_band=Detection("HIGH band", 60, 576, 5, 24, (3, 9)),
    ) if lead else None
    return Evaluation(
        model_version="20260301-abcdef0123",
        metrics=classification_metrics(y, p),
        calibration=tuple(calibration_table(y, p)),
        flagged_rows=40 if flagged else 0,
        reasons=reasons,
        roc=roc_curve(y, p),
        precision_recall=precision_recall_curve(y, p),
        lead_times=lead_times,
    )


def _assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG_SIGNATURE), path
    height, width, _ = imread(path).shape  # decodes: a valid image, not just a header
    assert height > 100
    assert width > 100


def test_report_is_written_with_its_four_plots(tmp_path: Path, trained: TrainedFixture) -> None:
    evaluation = _evaluation()
    written = write_report(tmp_path / "out", evaluation, trained.model.metadata,
                           "600 simulated customers x 240 days, seed 101")
    report = tmp_path / "out" / "report.md"
    assert written[0] == report
    assert {p.relative_to(tmp_path / "out").as_posix() for p in written[1:]} == PLOTS
    for plot in written[1:]:
        _assert_png(plot)
    text = report.read_text()
    assert text.startswith("# Model evaluation: 20260301-abcdef0123")
    assert "600 simulated customers x 240 days, seed 101" in text
    # every image the report embeds exists beside it, and every plot is embedded
    links = set(re.findall(r"!\[[^]]*\]\(([^)]+)\)", text))
    assert links == PLOTS
    # per-split metrics come from the version's metadata, next to this evaluation's
    for split in ("train", "validation", "out_of_time"):
        assert f"| {split} (at training) | " in text
    validation_auc = trained.model.metadata["metrics"]["validation"]["roc_auc"]
    assert f"{validation_auc:.4f}" in text
    assert f"| **this evaluation** | 400 | {int(evaluation.metrics['positives'])} |" in text
    # the calibration table has a row per bin, adding up to the rows
    bins = re.findall(r"^\| (\d+) \| [0-9.]+-[0-9.]+ \| (\d+) \|", text, flags=re.MULTILINE)
    assert [int(b) for b, _ in bins] == list(range(1, 11))
    assert sum(int(count) for _, count in bins) == 400
    assert "| `R_PAST_DUE` | A credit product is currently past due | 30 | 75.0% |" in text
    # lead times: rule, threshold, false alarms, detection and lead-day quartiles
    assert ("| false-alarm rate <= 5% | 47 | 4.5% (26/576) | 4/24 | 16.7% | 20.0 | 15.2 "
            "| 24.8 |") in text
    assert "| HIGH band | 60 | 0.9% (5/576) | 2/24 | 8.3% | 6.0 | 4.5 | 7.5 |" in text


def test_report_without_flagged_rows_or_lead_times(tmp_path: Path) -> None:
    files = write_report(tmp_path, _evaluation(flagged=False, lead=False), {}, "a log",
                         notes=["Something the reader must know."])
    assert len(files) == 5
    for plot in files[1:]:
        _assert_png(plot)  # the reason chart says there is nothing to show
    text = files[0].read_text()
    assert "No row was scored HIGH or CRITICAL." in text
    assert "`predelinq evaluate --simulate N` computes them" in text
    assert "records no training metrics" in text
    assert "> Something the reader must know." in text


def test_report_files_are_what_a_version_stores(tmp_path: Path,
                                                trained: TrainedFixture) -> None:
    evaluation = _evaluation()
    write_report(tmp_path / "a", evaluation, trained.model.metadata, "rows")
    files = report_files(tmp_path / "a")
    assert set(files) == {"report.md", *PLOTS}
    assert files["report.md"] == (tmp_path / "a" / "report.md").read_bytes()
    # the same evaluation gives the same bytes (no dates or versions in the PNGs)
    write_report(tmp_path / "b", evaluation, trained.model.metadata, "rows")
    assert report_files(tmp_path / "b") == files


@pytest.mark.parametrize("metadata", [{}, {"metrics": "garbage", "training_source": None}])
def test_report_tolerates_sparse_metadata(metadata: dict[str, object]) -> None:
    text = render_report(_evaluation(), metadata, "rows")
    assert "| trained on | not recorded |" in text
    assert "| created | not recorded |" in text

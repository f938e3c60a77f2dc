"""The evaluation report: report.md, its PNG plots (the capture plot with capture figures),
the score-scale and capture sections, and the files saved with a version."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from stream_app.training import (
    CaptureCurve,
    CapturePoint,
    CaptureReport,
    Evaluation,
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
CAPTURE_PLOT = "plots/capture_vs_contacts.png"


def _capture() -> CaptureReport:
    at_target = CapturePoint(threshold=47, positives=24, lead_days=(10, 18, 22, 30),
                             first_miss_positives=20, first_miss_captured=3, negatives=576,
                             false_alarms=26, contacts_per_1000_month=12.34)
    high = CapturePoint(60, 24, (3, 9), 20, 1, 576, 5, 4.0)
    auto = CapturePoint(80, 0, (), 0, 0, 576, 0, 0.5)  # no positive in the window
    thresholds = range(101)
    curve = CaptureCurve(tuple(1000.0 * (1 - t / 100) for t in thresholds),
                         tuple(1 - t / 100 for t in thresholds),
                         tuple(0.5 * (1 - t / 100) for t in thresholds))
    return CaptureReport(customers=600, rows_scored=213_712, warmup_days=90, outcome_days=90,
                         window_days=150, target_false_alarm_rate=0.05, at_target=at_target,
                         operating_points=(("HIGH band", high),
                                           ("AUTO_TRIGGER_THRESHOLD", auto)),
                         curve=curve)


def _evaluation(*, flagged: bool = True, capture: bool = True,
                left_out: int = 0) -> Evaluation:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1)
    reasons = (ReasonCount("R_FAILED_DD", "Direct debits or automatic payments failed "
                           "recently", 30, 0.75),
               ReasonCount("R_LOW_INCOME", "Income credited in the last 30 days is low", 12,
                           0.3)) if flagged else ()
    return Evaluation(
        model_version="20260301-abcdef0123",
        metrics=classification_metrics(y, p),
        calibration=tuple(calibration_table(y, p)),
        flagged_rows=40 if flagged else 0,
        reasons=reasons,
        roc=roc_curve(y, p),
        precision_recall=precision_recall_curve(y, p),
        capture=_capture() if capture else None,
        arrears_rows_left_out=left_out,
    )


def _assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG_SIGNATURE), path
    height, width, _ = imread(path).shape  # decodes: a valid image, not just a header
    assert height > 100
    assert width > 100


def test_report_is_written_with_its_plots(tmp_path: Path, trained: TrainedFixture) -> None:
    evaluation = _evaluation()
    written = write_report(tmp_path / "out", evaluation, trained.model.metadata,
                           "600 simulated customers x 240 days, seed 101")
    report = tmp_path / "out" / "report.md"
    assert written[0] == report
    assert {p.relative_to(tmp_path / "out").as_posix() for p in written[1:]} == {
        *PLOTS, CAPTURE_PLOT}
    for plot in written[1:]:
        _assert_png(plot)
    text = report.read_text()
    assert text.startswith("# Model evaluation: 20260301-abcdef0123")
    assert "600 simulated customers x 240 days, seed 101" in text
    # every image the report embeds exists beside it, and every plot is embedded
    links = set(re.findall(r"!\[[^]]*\]\(([^)]+)\)", text))
    assert links == {*PLOTS, CAPTURE_PLOT}
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
    assert ("| `R_FAILED_DD` | Direct debits or automatic payments failed recently | 30 | "
            "75.0% |") in text


def test_capture_section(tmp_path: Path) -> None:
    text = render_report(_evaluation(), {}, "rows")
    section = text[text.index("## Pre-delinquency capture"):]
    assert "600 customers scored as the stream scores them (213,712 scores)" in section
    assert "The window is the last 150 days, after 90 days of history" in section
    assert "flagged at least 90 days before the end" in section
    # operating point, threshold, captured while current, median and p25 lead, before the
    # first miss, false alarms, contacts: lead days 10, 18, 22, 30 have median 20 and p25 16
    assert ("| false alarms <= 5% | 47 | 16.7% (4/24) | 20.0 | 16.0 | 15.0% (3/20) | "
            "4.5% (26/576) | 12.3 |") in section
    # lead days 3, 9: median 6, p25 4.5
    assert ("| HIGH band | 60 | 8.3% (2/24) | 6.0 | 4.5 | 5.0% (1/20) | 0.9% (5/576) | "
            "4.0 |") in section
    # no positive in the window: no rate to show rather than 0%
    assert ("| AUTO_TRIGGER_THRESHOLD | 80 | n/a (0/0) | n/a | n/a | n/a (0/0) | "
            "0.0% (0/576) | 0.5 |") in section
    assert f"({CAPTURE_PLOT})" in section


def test_report_without_flagged_rows_or_capture(tmp_path: Path) -> None:
    files = write_report(tmp_path, _evaluation(flagged=False, capture=False), {}, "a log",
                         notes=["Something the reader must know."])
    assert {p.relative_to(tmp_path).as_posix() for p in files[1:]} == PLOTS  # no capture plot
    for plot in files[1:]:
        _assert_png(plot)  # the reason chart says there is nothing to show
    text = files[0].read_text()
    assert "No row was scored HIGH or CRITICAL." in text
    assert "Capture needs a days-past-due history" in text
    assert CAPTURE_PLOT not in text
    assert "records no training metrics" in text
    assert "> Something the reader must know." in text


def test_report_says_how_many_arrears_points_were_left_out() -> None:
    text = render_report(_evaluation(left_out=1_234), {}, "rows")
    assert "> 1,234 labelled points where the customer was in arrears were left out" in text
    assert "in arrears were left out" not in render_report(_evaluation(), {}, "rows")


def test_score_scale_section(trained: TrainedFixture) -> None:
    metadata = trained.model.metadata
    scale = metadata["score_scale"]
    assert scale["method"] == "risk_rank"
    text = render_report(_evaluation(), metadata, "rows")
    section = text[text.index("## Score scale"):text.index("## Pre-delinquency capture")]
    # the population is the validation customers' stream, counted in customer-months
    assert scale["unit"] == "customer-months"
    assert f"({scale['population_rows']:,} customer-months;" in section
    # the anchors: share of the population at or above each score
    for share, score in scale["anchors"]:
        assert f"| {share:.1%} | {score} |" in section
    # the knots: from score 0 to 100, with their probabilities
    rows = re.findall(r"^\| (\d+) \| (0\.\d{4}) \|$", section, flags=re.MULTILINE)
    scores = [int(s) for s, _ in rows]
    assert scores == [round(s) for _, s in scale["knots"]]
    assert (scores[0], scores[-1]) == (0, 100)
    assert scores == sorted(scores)
    assert [p for _, p in rows] == [f"{p:.4f}" for p, _ in scale["knots"]]


@pytest.mark.parametrize("scale", [None, {"method": "probability"}])
def test_score_scale_section_of_a_model_without_risk_ranks(scale: object) -> None:
    text = render_report(_evaluation(), {"score_scale": scale}, "rows")
    assert "Score = round(100 x calibrated probability)" in text


def test_report_files_are_what_a_version_stores(tmp_path: Path,
                                                trained: TrainedFixture) -> None:
    evaluation = _evaluation()
    write_report(tmp_path / "a", evaluation, trained.model.metadata, "rows")
    files = report_files(tmp_path / "a")
    assert set(files) == {"report.md", *PLOTS, CAPTURE_PLOT}
    assert files["report.md"] == (tmp_path / "a" / "report.md").read_bytes()
    # the same evaluation gives the same bytes (no dates or versions in the PNGs)
    write_report(tmp_path / "b", evaluation, trained.model.metadata, "rows")
    assert report_files(tmp_path / "b") == files


@pytest.mark.parametrize("metadata", [{}, {"metrics": "garbage", "training_source": None,
                                           "score_scale": "garbage"}])
def test_report_tolerates_sparse_metadata(metadata: dict[str, object]) -> None:
    text = render_report(_evaluation(), metadata, "rows")
    assert "| trained on | not recorded |" in text
    assert "| created | not recorded |" in text

"""The evaluation report: ``report.md`` with its plots in ``plots/`` beside it.

The report names the model version and the data it was evaluated on, and shows the metrics of
each training split (from the version's metadata) next to this evaluation's, the calibration
table, the reason-code frequencies of HIGH/CRITICAL rows, the score scale and, on data with a
days-past-due history (simulated, or logged DELINQUENCY_STATUS events), capture while current
against contact volume. :func:`report_files` reads a written report back as
``{relative path: bytes}`` for ``save_trained_model(extra_files=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stream_app.features import FEATURE_CODE_SHA256

from ._capture import CapturePoint, CaptureReport
from ._evaluate import Evaluation
from ._plots import PLOT_FILES, write_plots

__all__ = ["PLOTS_DIR", "REPORT_FILE", "render_report", "report_files", "write_report"]

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"
_SPLITS = ("train", "validation", "out_of_time")
_METRIC_COLUMNS = (("rows", "rows", 0), ("positives", "positives", 0), ("roc_auc", "ROC-AUC", 4),
                   ("pr_auc", "PR-AUC", 4), ("ks", "KS", 4), ("brier", "Brier", 4),
                   ("capture_top5pct", "capture top 5%", 3),
                   ("capture_top10pct", "capture top 10%", 3))


def _number(value: object, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}" if digits else f"{value:,.0f}"


def _describe(source: object) -> str:
    if isinstance(source, Mapping):
        return ", ".join(f"{key} {value}" for key, value in source.items())
    return "not recorded" if source is None else str(source)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1
           ) -> list[str]:
    """A Markdown table: the first ``text_columns`` left-aligned, the others right-aligned."""
    align = ["---" if i < text_columns else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _metrics_section(evaluation: Evaluation, metadata: Mapping[str, Any]) -> list[str]:
    recorded = metadata.get("metrics")
    splits = recorded if isinstance(recorded, Mapping) else {}
    rows: list[list[str]] = []
    for split in _SPLITS:
        values = splits.get(split)
        if isinstance(values, Mapping):
            rows.append([f"{split} (at training)",
                         *(_number(values.get(key), digits) for key, _, digits in _METRIC_COLUMNS)])
    rows.append(["**this evaluation**", *(_number(evaluation.metrics.get(key), digits)
                                          for key, _, digits in _METRIC_COLUMNS)])
    lines = ["## Metrics", ""]
    if not splits:
        lines += ["The version's metadata records no training metrics.", ""]
    lines += _table(["data", *(title for _, title, _ in _METRIC_COLUMNS)], rows)
    lines += ["", "Capture top k%: share of all positives among the k% highest-scored rows. "
                  "Brier: mean squared error of the calibrated probability.", ""]
    return lines


def _calibration_section(evaluation: Evaluation) -> list[str]:
    rows = [[str(i), f"{_number(b.lower)}-{_number(b.upper)}", f"{b.count:,}",
             _number(b.mean_predicted), _number(b.observed_rate)]
            for i, b in enumerate(evaluation.calibration, start=1)]
    return ["## Calibration", "",
            f"Rows sorted by predicted probability and cut into {len(rows)} bins of equal size "
            "(bin 1: the lowest predictions).", "",
            *_table(["bin", "predicted probability", "rows", "mean predicted", "observed rate"],
                    rows),
            "", f"![Calibration plot]({PLOTS_DIR}/{PLOT_FILES['calibration']})", ""]


def _curves_section() -> list[str]:
    return ["## ROC and precision-recall curves", "",
            f"![ROC curve]({PLOTS_DIR}/{PLOT_FILES['roc']})",
            f"![Precision-recall curve]({PLOTS_DIR}/{PLOT_FILES['precision_recall']})", ""]


def _reasons_section(evaluation: Evaluation) -> list[str]:
    high = evaluation.bands.high
    lines = ["## Reason codes of HIGH and CRITICAL rows", "",
             f"{evaluation.flagged_rows:,} rows scored HIGH or CRITICAL (score >= {high}). "
             "Share: the share of those rows with the code among their top-3 reasons "
             "(exact SHAP contributions), so the shares add up to more than 1.", ""]
    if evaluation.reasons:
        lines += _table(["code", "reason", "rows", "share"],
                        [[f"`{r.code}`", r.text, f"{r.count:,}", f"{r.share:.1%}"]
                         for r in evaluation.reasons], text_columns=2)
    else:
        lines.append("No row was scored HIGH or CRITICAL.")
    return [*lines, "", f"![Reason-code frequency]({PLOTS_DIR}/{PLOT_FILES['reasons']})", ""]


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _capture_row(name: str, point: CapturePoint) -> list[str]:
    return [name, str(point.threshold),
            f"{_rate(point.capture_rate)} ({point.captured:,}/{point.positives:,})",
            _number(point.median_lead_days, 1), _number(point.lead_quantile(0.25), 1),
            f"{_rate(point.first_miss_capture_rate)} ({point.first_miss_captured:,}/"
            f"{point.first_miss_positives:,})",
            f"{point.false_alarm_rate:.1%} ({point.false_alarms:,}/{point.negatives:,})",
            f"{point.contacts_per_1000_month:,.1f}"]


def _capture_section(capture: CaptureReport | None) -> list[str]:
    lines = ["## Pre-delinquency capture (the measurement that matters)", ""]
    if capture is None:
        return [*lines, "Capture needs a days-past-due history: `predelinq evaluate --simulate N`, "
                        "or an event log with DELINQUENCY_STATUS events.", ""]
    target = capture.target_false_alarm_rate
    rows = [_capture_row(f"false alarms <= {target:.0%}", capture.at_target)]
    rows += [_capture_row(name, point) for name, point in capture.operating_points]
    lines += [
        f"{capture.customers:,} customers scored as the stream scores them "
        f"({capture.rows_scored:,} scores). The window is the last {capture.window_days} "
        f"days, after {capture.warmup_days} days of history. A flag is a pre-delinquency "
        "(current) score at or above the threshold. **Captured while current**: a customer "
        "who later reaches 30 days past due, flagged on a day strictly before the missed "
        "due date that led there; **lead**: days from the first such flag to that due date. "
        "**Before first miss**: flagged before the customer's first missed payment of all. "
        "**False alarm**: never reaches 30 days past due, flagged at least "
        f"{capture.outcome_days} days before the end. **Contacts**: customers flagged per "
        "1,000 customers per 30 days. "
        "Definitions: docs/definitions.md.", "",
        *_table(["operating point", "score", "captured while current", "median lead days",
                 "p25 lead days", "before first miss", "false alarms",
                 "contacts / 1,000 / month"], rows),
        "", f"![Capture against contact volume]({PLOTS_DIR}/{PLOT_FILES['capture']})", ""]
    return lines


def _scale_section(metadata: Mapping[str, Any]) -> list[str]:
    scale = metadata.get("score_scale")
    lines = ["## Score scale", ""]
    if not isinstance(scale, Mapping) or scale.get("method") != "risk_rank":
        return [*lines, "Score = round(100 x calibrated probability) (a model without a "
                        "risk-rank scale).", ""]
    rows = [[f"{float(share):.1%}", str(score)] for share, score in scale.get("anchors", [])]
    knots = [[str(round(float(s))), f"{float(p):.4f}"] for p, s in scale.get("knots", [])]
    return [*lines,
            "The pre-delinquency score is a risk rank in a training population of current "
            f"customers ({int(scale.get('population_rows', 0)):,} "
            f"{scale.get('unit', 'rows')}; customer-months: each current customer's highest "
            "score in a 30-day period of the replayed stream): at each anchor, the share of "
            "that population at or above it.", "",
            *_table(["share at or above", "score"], rows), "",
            "Knots (score: lowest calibrated probability of 30 days past due within 90 days); "
            "the score is linear in log-odds between them:", "",
            *_table(["score", "probability"], knots), ""]


def render_report(evaluation: Evaluation, metadata: Mapping[str, Any], source: str,
                  notes: Sequence[str] = ()) -> str:
    """The report's Markdown (plots referenced relative to it in ``plots/``)."""
    metrics = evaluation.metrics
    lines = [f"# Model evaluation: {evaluation.model_version}", ""]
    lines += _table(["", ""], text_columns=2, rows=[
        ["model version", f"`{evaluation.model_version}`"],
        ["created", str(metadata.get("created_at", "not recorded"))],
        ["trained on", _describe(metadata.get("training_source"))],
        ["best iteration", str(metadata.get("best_iteration", "n/a"))],
        ["evaluated on", source],
        ["rows / positives", f"{_number(metrics['rows'], 0)} / "
                             f"{_number(metrics['positives'], 0)}"],
    ])
    lines.append("")
    if metadata.get("feature_code_sha256") not in (None, FEATURE_CODE_SHA256):
        lines += ["> The feature code changed since this model was trained: the rows were "
                  "computed with the current code.", ""]
    lines += [f"> {note}" for note in notes]
    if notes:
        lines.append("")
    if evaluation.arrears_rows_left_out:
        lines += [f"> {evaluation.arrears_rows_left_out:,} labelled points where the customer "
                  "was in arrears were left out: the pre-delinquency model is evaluated on "
                  "current customers.", ""]
    lines += _metrics_section(evaluation, metadata)
    lines += _calibration_section(evaluation)
    lines += _curves_section()
    lines += _reasons_section(evaluation)
    lines += _scale_section(metadata)
    lines += _capture_section(evaluation.capture)
    return "\n".join(lines)


def write_report(directory: Path, evaluation: Evaluation, metadata: Mapping[str, Any],
                 source: str, notes: Sequence[str] = ()) -> list[Path]:
    """Write ``report.md`` and ``plots/*.png`` into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    plots = write_plots(directory / PLOTS_DIR, evaluation)
    report = directory / REPORT_FILE
    report.write_text(render_report(evaluation, metadata, source, notes))
    return [report, *plots.values()]


def report_files(directory: Path) -> dict[str, bytes]:
    """A written report as ``{path relative to directory: content}``."""
    files = [directory / REPORT_FILE, *sorted((directory / PLOTS_DIR).glob("*.png"))]
    return {file.relative_to(directory).as_posix(): file.read_bytes() for file in files}

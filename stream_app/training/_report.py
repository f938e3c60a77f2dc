"""The evaluation report: ``report.md`` with its plots in ``plots/`` beside it.

The report names the model version and the data it was evaluated on, and shows the metrics of
each training split (from the version's metadata) next to this evaluation's, the calibration
table, the reason-code frequencies of HIGH/CRITICAL rows and, on simulated data, the detection
lead times. :func:`report_files` reads a written report back as ``{relative path: bytes}`` for
``save_trained_model(extra_files=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stream_app.features import FEATURE_CODE_SHA256

from ._evaluate import Evaluation
from ._lead_time import Detection, LeadTimes
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


def _detection_row(detection: Detection) -> list[str]:
    rate = detection.detection_rate
    return [detection.rule, str(detection.threshold),
            f"{detection.false_alarm_rate:.1%} ({detection.false_alarms:,}/"
            f"{detection.negatives:,})",
            f"{detection.detected:,}/{detection.positives:,}",
            "n/a" if rate is None else f"{rate:.1%}",
            *(_number(detection.lead_quantile(q), 1) for q in (0.5, 0.25, 0.75))]


def _lead_time_section(lead: LeadTimes | None) -> list[str]:
    lines = ["## Detection lead time", ""]
    if lead is None:
        return [*lines, "Lead times need the simulator's ground truth: "
                        "`predelinq evaluate --simulate N` computes them.", ""]
    dpd = lead.threshold_dpd
    lines += [
        f"Every one of {lead.customers:,} simulated customers scored as the stream scores them "
        f"(after every event and at absence deadlines: {lead.rows_scored:,} scores). "
        f"A false alarm is a customer who never reaches {dpd} days past due but is scored at "
        f"or above the threshold at some time; a detected customer is scored at or above it on "
        f"a day strictly before the first day at {dpd} days past due, and the lead time is the "
        f"number of days from the first such score to that day.", "",
        *_table(["threshold", "score", "false-alarm rate", "detected", "detection rate",
                 "median lead days", "p25", "p75"],
                [_detection_row(lead.at_target), _detection_row(lead.at_high_band)]),
        ""]
    return lines


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
    lines += _metrics_section(evaluation, metadata)
    lines += _calibration_section(evaluation)
    lines += _curves_section()
    lines += _reasons_section(evaluation)
    lines += _lead_time_section(evaluation.lead_times)
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

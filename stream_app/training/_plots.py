"""The evaluation's plots as PNG files (matplotlib's Agg canvas: no display, no pyplot state).

PNGs carry no software-version or date metadata, so the same evaluation gives the same bytes
with the same matplotlib.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._evaluate import Evaluation

__all__ = ["PLOT_FILES", "write_plots"]

PLOT_FILES = {
    "roc": "roc.png",
    "precision_recall": "precision_recall.png",
    "calibration": "calibration.png",
    "reasons": "reason_codes.png",
    "capture": "capture_vs_contacts.png",
}
_MAX_REASON_BARS = 15
_DPI = 100


def _figure(width: float = 5.5, height: float = 4.5) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def _roc(evaluation: Evaluation, path: Path) -> Path:
    figure, axes = _figure()
    auc = evaluation.metrics["roc_auc"]
    axes.plot(evaluation.roc.x, evaluation.roc.y, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate",
             ylabel="true-positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    return _save(figure, path)


def _precision_recall(evaluation: Evaluation, path: Path) -> Path:
    figure, axes = _figure()
    metrics = evaluation.metrics
    base_rate = metrics["positives"] / metrics["rows"]
    curve = evaluation.precision_recall
    axes.step(curve.x, curve.y, where="post", label=f"model (AP {metrics['pr_auc']:.3f})")
    axes.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.3f}")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision",
             title="Precision-recall curve")
    axes.legend(loc="upper right")
    return _save(figure, path)


def _calibration(evaluation: Evaluation, path: Path) -> Path:
    figure, axes = _figure()
    points = [(b.mean_predicted, b.observed_rate) for b in evaluation.calibration
              if b.mean_predicted is not None and b.observed_rate is not None]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    axes.plot([x for x, _ in points], [y for _, y in points], marker="o", label="model")
    top = max([0.05, *(max(x, y) * 1.1 for x, y in points)])  # zoom to the bins
    rows = max((b.count for b in evaluation.calibration), default=0)
    axes.set(xlim=(0, min(1.0, top)), ylim=(0, min(1.0, top)),
             xlabel="mean predicted probability", ylabel="observed rate",
             title=f"Calibration ({len(evaluation.calibration)} bins of about {rows:,} rows)")
    axes.legend(loc="lower right")
    return _save(figure, path)


def _reasons(evaluation: Evaluation, path: Path) -> Path:
    reasons = evaluation.reasons[:_MAX_REASON_BARS]
    figure, axes = _figure(7.0, max(3.0, 0.35 * len(reasons) + 1.5))
    title = f"Top-3 reason codes of rows scored HIGH or CRITICAL ({evaluation.flagged_rows} rows)"
    if reasons:
        positions = range(len(reasons))
        axes.barh(list(positions), [r.share for r in reasons])
        axes.set_yticks(list(positions), [r.code for r in reasons], fontsize=8)
        axes.invert_yaxis()
        axes.set(xlim=(0, 1), xlabel="share of flagged rows")
    else:
        axes.text(0.5, 0.5, "no row scored HIGH or CRITICAL", ha="center", va="center")
        axes.set_axis_off()
    axes.set_title(title, fontsize=9)
    return _save(figure, path)


def _capture(evaluation: Evaluation, path: Path) -> Path:
    figure, axes = _figure(6.5, 4.5)
    capture = evaluation.capture
    assert capture is not None
    curve = capture.curve
    axes.plot(curve.contacts_per_1000_month, [c * 100 for c in curve.capture_rate],
              color="tab:blue", label="every threshold 0-100")
    marks = [(f"false alarms <= {capture.target_false_alarm_rate:.0%}", capture.at_target),
             *capture.operating_points]
    for (name, point), marker in zip(marks, ("o", "s", "^", "D"), strict=False):
        axes.plot([point.contacts_per_1000_month], [(point.capture_rate or 0.0) * 100],
                  marker=marker, linestyle="none",
                  label=f"{name}: score >= {point.threshold}")
    top = max([10.0, *(pt.contacts_per_1000_month for _, pt in marks)]) * 1.5
    axes.set(xlim=(0, min(top, max(curve.contacts_per_1000_month or (top,)))), ylim=(0, 101),
             xlabel="customers contacted per 1,000 per month",
             ylabel="% of future 30-DPD customers reached while current",
             title="Capture while current against contact volume")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def write_plots(directory: Path, evaluation: Evaluation) -> dict[str, Path]:
    """Write the plots into ``directory`` (the capture plot only when the evaluation has
    capture figures); returns their paths by :data:`PLOT_FILES` key."""
    directory.mkdir(parents=True, exist_ok=True)
    writers = {"roc": _roc, "precision_recall": _precision_recall,
               "calibration": _calibration, "reasons": _reasons}
    if evaluation.capture is not None:
        writers["capture"] = _capture
    return {key: writer(evaluation, directory / PLOT_FILES[key])
            for key, writer in writers.items()}

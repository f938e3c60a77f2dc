"""Pure helpers of bench/scaling.py: the measured span, the speed-ups and the markdown."""

from __future__ import annotations

from typing import Any

import pytest

from bench.compare import replace_section
from bench.scaling import DOC_END, DOC_START, Tick, render_markdown, run_figures, speedups


def test_the_span_runs_from_the_first_ready_worker_to_the_final_scores() -> None:
    ticks = [
        Tick(0.0, 0, 0, (0.5, 0.5), 0),  # starting: not counted
        Tick(1.0, 0, 0, (1.0, 1.0), 1),  # first ready
        Tick(3.0, 600, 500, (2.0, 2.5), 2),
        Tick(5.0, 1000, 1002, (3.0, 4.0), 2),  # everything consumed and published
        Tick(10.0, 1000, 1002, (3.2, 4.2), 2),  # settling: not counted
    ]
    figures = run_figures(ticks, 1000)
    assert figures is not None
    assert figures.seconds == pytest.approx(4.0)
    assert figures.events_per_second == pytest.approx(250.0)
    assert figures.cpu_seconds == pytest.approx((2.0, 3.0))
    assert figures.cpu_us_per_event == pytest.approx(5000.0)
    assert figures.scores == 1002
    assert run_figures([Tick(0.0, 0, 0, (0.0,), 0)], 10) is None  # never ready


def _run(workers: int, eps: float, ok: bool = True) -> dict[str, Any]:
    return {"workers": workers, "events": 30_000, "seconds": 30_000 / eps,
            "events_per_second": eps, "cpu_seconds": [10.0] * workers,
            "cpu_us_per_event": 330.0 * workers,
            "reference_check": {"ok": ok, "equal": 30_000 if ok else 29_999,
                                "expected": 30_000}}


def test_speedups_and_markdown() -> None:
    runs = [_run(1, 2000.0), _run(2, 3000.0), _run(4, 3500.0, ok=False)]
    assert speedups(runs) == pytest.approx([1.0, 1.5, 1.75])
    assert speedups(runs[1:]) == [None, None]
    report = {"command": ".venv/bin/python -m bench.scaling", "date": "2026-12-03",
              "machine": {"cores": 2, "cpu_model": "AMD EPYC"},
              "kafka": "Apache Kafka 4.1.1 (one local broker)",
              "worker_source": "working tree at abc1234",
              "config": {"partitions": 8, "batch_size": 100, "store": "rocksdb://",
                         "backlog": 30_000, "customers": 1500},
              "runs": runs}
    text = render_markdown(report)
    assert ("| 2 | 30,000 | 10.0 | 3,000 | 1.50x | 10.0 / 10.0 | 660 | 2.00 "
            "| 30,000 / 30,000 |") in text
    assert "29,999 / 30,000 **FAILED**" in text
    assert "4 workers share 2 cores" in text
    doc = replace_section("# Performance\n\nintro\n", text, DOC_START, DOC_END)
    assert doc.startswith("# Performance\n\nintro\n\n<!-- bench:scaling -->\n")
    assert doc.endswith("<!-- /bench:scaling -->\n")
    again = replace_section(doc, "new", DOC_START, DOC_END)
    assert "new" in again
    assert "intro" in again
    assert "Scaling with workers" not in again

"""Scoring and reason-code benchmarks.

For a model of the default training size (trained here on simulated customers, or the one at
``--model``), measures microseconds per row at batch sizes 1, 100 and 1000 for:
  * CatBoost's own ``predict`` (RawFormulaVal);
  * the project's evaluation (tree leaves + sigmoid) and leaf-SHAP contributions;
  * the top-3 reason codes from those contributions;
  * ``shap.TreeExplainer`` per row, for comparison (batch 1 only, a few rows).

Run: ``.venv/bin/python -m bench.scoring_bench [--model DIR] [--markdown]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stream_app.scoring import ScoringModel, top_reasons


def _time_per_row(function: Any, rows: int, budget_s: float = 1.5) -> float:
    calls = 0
    started = time.perf_counter()
    while time.perf_counter() - started < budget_s:
        function()
        calls += 1
    return (time.perf_counter() - started) / (calls * rows) * 1e6


def _model(path: str | None) -> ScoringModel:
    if path:
        return ScoringModel.load(path)
    from tests.support.models import train_small_model

    tmp = Path(tempfile.mkdtemp(prefix="bench-model-"))
    return train_small_model(tmp, customers=1500, days=240, iterations=300,
                             use_best_model=False).model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model version directory (default: train one)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    from catboost import CatBoostClassifier

    model = _model(args.model)
    from model_registry import read_version

    catboost_model = CatBoostClassifier()
    catboost_model.load_model(blob=read_version(model.path).model_bytes)
    rng = np.random.default_rng(1)
    width = model.forest.n_features
    results = []
    for batch in (1, 100, 1000):
        x = np.abs(rng.normal(0, 1e4, size=(batch, width)))
        x32 = x.astype(np.float32)
        scored = model.score(x)
        results.append((
            batch,
            _time_per_row(lambda x32=x32: catboost_model.predict(
                x32, prediction_type="RawFormulaVal"), batch),
            _time_per_row(lambda x=x: model.score(x), batch),
            _time_per_row(lambda x=x, s=scored: top_reasons(s.contributions, x), batch),
        ))
    import shap

    explainer = shap.TreeExplainer(catboost_model)
    one = np.abs(rng.normal(0, 1e4, size=(1, width)))
    shap_us = _time_per_row(lambda: explainer.shap_values(one), 1, budget_s=3.0)
    trees = f"{model.forest.n_trees} trees, depth {model.forest.max_depth}, {width} features"
    if args.markdown:
        print(f"Model: {model.version} ({trees}).\n")
        print("| batch | CatBoost predict | our score + exact SHAP | top-3 reasons |")
        print("| ---: | ---: | ---: | ---: |")
        for batch, cat_us, ours_us, reasons_us in results:
            print(f"| {batch} | {cat_us:.1f} µs/row | {ours_us:.1f} µs/row | "
                  f"{reasons_us:.1f} µs/row |")
        print(f"\n`shap.TreeExplainer` on one row: {shap_us / 1000:.1f} ms.")
    else:
        print(f"model {model.version}: {trees}")
        for batch, cat_us, ours_us, reasons_us in results:
            print(f"batch {batch:5d}: catboost predict {cat_us:8.1f} µs/row   "
                  f"score+shap {ours_us:8.1f} µs/row   reasons {reasons_us:6.1f} µs/row")
        print(f"shap.TreeExplainer one row: {shap_us / 1000:.1f} ms")


if __name__ == "__main__":
    main()

"""Training time on about 1M simulated events (target: at most 2 minutes on this machine).

Phases: simulate the events and labels, replay the log to point-in-time features at every
label (the worker's feature code), train CatBoost with early stopping and calibrate.

Run: ``.venv/bin/python -m bench.training_bench [--events 1000000] [--markdown]``.
"""

from __future__ import annotations

import argparse
import time

from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from stream_app.training import TrainingParams, build_dataset, train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=240)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    customers = max(50, round(args.events / (args.days * 1.52)))
    config = SimulationConfig(customers=customers, days=args.days, seed=7)
    started = time.perf_counter()
    simulator = BankSimulator(config)
    events = list(simulator.events())
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
    simulated = time.perf_counter()
    dataset = build_dataset(events, labels)
    replayed = time.perf_counter()
    trained = train_model(dataset, TrainingParams())
    done = time.perf_counter()
    rows = [
        ("events / customers / labelled points",
         f"{len(events):,} / {customers:,} / {len(labels):,} ({int(dataset.labels.sum())} "
         "positive)"),
        ("simulate", f"{simulated - started:.1f} s"),
        ("replay to point-in-time features", f"{replayed - simulated:.1f} s"),
        ("CatBoost fit + calibration",
         f"{done - replayed:.1f} s ({trained.best_iteration + 1} trees kept)"),
        ("total", f"{done - started:.1f} s"),
        ("validation ROC-AUC / PR-AUC",
         f"{trained.metrics['validation']['roc_auc']:.3f} / "
         f"{trained.metrics['validation']['pr_auc']:.3f}"),
    ]
    if args.markdown:
        print("| phase | result |\n| --- | --- |")
        for name, value in rows:
            print(f"| {name} | {value} |")
    else:
        for name, value in rows:
            print(f"{name:40s} {value}")


if __name__ == "__main__":
    main()

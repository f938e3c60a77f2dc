"""A small real model for tests: trained on simulated customers, written to a registry.

It goes through the same steps as ``predelinq train --simulate``: current-only labels, the
arrears points' roll-rate table, CatBoost, and the score scale refitted on the validation
customers' stream scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model_registry import set_alias
from stream_app.scoring import ScoringModel, arrears_points
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from stream_app.training import (
    TrainingParams,
    build_training_data,
    fit_contact_scale,
    save_trained_model,
    train_model,
)


@dataclass(frozen=True)
class TrainedFixture:
    registry: Path
    path: Path  # the version directory
    model: ScoringModel


def train_small_model(registry: Path, *, customers: int = 600, days: int = 240,
                      iterations: int = 80, seed: int = 3,
                      use_best_model: bool = True) -> TrainedFixture:
    config = SimulationConfig(customers=customers, days=days, seed=seed)
    simulator = BankSimulator(config)
    events = list(simulator.events())
    truths = simulator.truths
    labels = labels_from_truth(truths, start_ms=config.start_ms, days=days)
    arrears = arrears_points({t.customer_id: t.dpd_by_day for t in truths},
                             start_ms=config.start_ms, days=days)
    dataset, assessment = build_training_data(events, labels, arrears)
    trained = train_model(dataset, TrainingParams(iterations=iterations, seed=seed,
                                                  use_best_model=use_best_model),
                          arrears=assessment)
    trained = fit_contact_scale(trained, dataset, events)
    version = save_trained_model(registry, trained)
    set_alias(registry, "champion", version.version)
    return TrainedFixture(registry, version.path, ScoringModel.load(version.path))

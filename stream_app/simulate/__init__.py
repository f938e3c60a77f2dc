"""The bank simulator: believable customers' events with a latent stress process, and labels."""

from ._bank import DAY_MS, BankSimulator, CustomerTruth
from ._config import DEFAULT_START_MS, SCENARIOS, STRESS_KINDS, Scenario, SimulationConfig
from ._experiment import ARREARS_DECISION, outcome_events, uplift_subjects
from ._figures import SIGNALS, SimulationFigures, render_figures, simulation_figures
from ._labels import TARGETS, Label, labels_from_truth

__all__ = ["ARREARS_DECISION", "DAY_MS", "DEFAULT_START_MS", "SCENARIOS", "SIGNALS",
           "STRESS_KINDS", "TARGETS",
           "BankSimulator", "CustomerTruth",
           "Label", "Scenario", "SimulationConfig", "SimulationFigures", "labels_from_truth",
           "outcome_events", "render_figures", "simulation_figures", "uplift_subjects"]

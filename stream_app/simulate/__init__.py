"""The bank simulator: believable customers' events with a latent stress process, and labels."""

from ._bank import BankSimulator, CustomerTruth, SimulationConfig
from ._labels import Label, labels_from_truth

__all__ = ["BankSimulator", "CustomerTruth", "Label", "SimulationConfig", "labels_from_truth"]

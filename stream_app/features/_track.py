"""The two tracks: pre-delinquency (nothing past due) and arrears (something past due). Pure.

A customer is **current** (pre-delinquency track) when no amount is past due on any credit
product: the newest arrears status of every product reports 0 days past due (or none was
reported), and no statement minimum or instalment whose due date has passed is still unpaid
(counted for items that fell due after the product's newest arrears status, so a bank without
a daily arrears run is covered too). Any amount past due puts the customer on the **arrears**
track, which collections own. docs/definitions.md has the full definitions (first miss, cure,
re-default).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ._catalogue import feature_index

__all__ = ["ARREARS", "PRE_DELINQUENCY", "TRACKS", "in_arrears", "track_of"]

PRE_DELINQUENCY = "PRE_DELINQUENCY"
ARREARS = "ARREARS"
TRACKS = (PRE_DELINQUENCY, ARREARS)

_DPD = feature_index("dpd_current")
_PAST_DUE = feature_index("amount_past_due_minor")


def track_of(vector: Sequence[float]) -> str:
    """The track of one feature vector."""
    return ARREARS if vector[_DPD] > 0 or vector[_PAST_DUE] > 0 else PRE_DELINQUENCY


def in_arrears(features: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Row mask of the feature matrix: True where the customer is on the arrears track."""
    result: npt.NDArray[np.bool_] = (features[:, _DPD] > 0) | (features[:, _PAST_DUE] > 0)
    return result

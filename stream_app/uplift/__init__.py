"""Uplift of interventions: treatment vs control share of customers reaching 30+ days past
due within 60 days of the decision (``predelinq uplift``; see docs/definitions.md)."""

from ._stats import (
    ALL,
    DAY_MS,
    METHOD,
    ArmCount,
    Decision,
    Subject,
    UpliftRow,
    newcombe_difference,
    subjects,
    uplift_report,
    wilson,
)

__all__ = ["ALL", "DAY_MS", "METHOD", "ArmCount", "Decision", "Subject", "UpliftRow",
           "newcombe_difference", "subjects", "uplift_report", "wilson"]

"""Intervention policy (pure): a validated policy file, contact rules, flags, control group."""

from ._config import DEFAULT_POLICY_PATH, PolicyConfig, PolicyFileError, load_policy
from ._contact import (
    FLAG_BANKRUPTCY,
    FLAG_DECEASED,
    FLAG_HARDSHIP_PLAN,
    FLAG_OPT_OUT,
    FLAG_VULNERABLE,
    ContactState,
    ContactStateError,
)
from ._engine import Decision, InterventionPolicy, in_control_group

__all__ = [
    "DEFAULT_POLICY_PATH",
    "FLAG_BANKRUPTCY",
    "FLAG_DECEASED",
    "FLAG_HARDSHIP_PLAN",
    "FLAG_OPT_OUT",
    "FLAG_VULNERABLE",
    "ContactState",
    "ContactStateError",
    "Decision",
    "InterventionPolicy",
    "PolicyConfig",
    "PolicyFileError",
    "in_control_group",
    "load_policy",
]

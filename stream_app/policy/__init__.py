"""Intervention policy: from a score and its reasons to an action (pure)."""

from ._threshold import ACTION_BY_REASON, Decision, ThresholdPolicy

__all__ = ["ACTION_BY_REASON", "Decision", "ThresholdPolicy"]

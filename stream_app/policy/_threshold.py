"""The first intervention policy: act on scores at or above a threshold (pure).

The action follows the top reason (salary delay: offer to move the payment date; failed direct
debits: a reminder before the next due date; rising utilisation: an instalment plan; arrears on
several products: a specialist call; otherwise budgeting support). Channel and priority follow
the band. Contact rules, customer flags and the control group belong to the contact policy that
builds on this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_app.events import Reason

__all__ = ["ACTION_BY_REASON", "Decision", "ThresholdPolicy"]

DAY_MS = 86_400_000

ACTION_BY_REASON: dict[str, str] = {
    "R_SALARY_DELAY": "PAYMENT_DATE_MOVE",
    "R_SALARY_MISSED": "PAYMENT_DATE_MOVE",
    "R_SALARY_GAP": "PAYMENT_DATE_MOVE",
    "R_IRREGULAR_SALARY": "PAYMENT_DATE_MOVE",
    "R_INCOME_DROP": "PAYMENT_DATE_MOVE",
    "R_LOW_INCOME": "PAYMENT_DATE_MOVE",
    "R_LOW_INCOME_60D": "PAYMENT_DATE_MOVE",
    "R_FAILED_DD": "PAYMENT_REMINDER",
    "R_FAILED_DD_90D": "PAYMENT_REMINDER",
    "R_NSF_DECLINES": "PAYMENT_REMINDER",
    "R_DUE_SOON_SHORTFALL": "PAYMENT_REMINDER",
    "R_UNDERPAYMENT": "PAYMENT_REMINDER",
    "R_HIGH_UTILISATION": "INSTALMENT_PLAN",
    "R_UTILISATION_RISING": "INSTALMENT_PLAN",
    "R_MIN_PAYMENTS": "INSTALMENT_PLAN",
    "R_MULTIPLE_ARREARS": "SPECIALIST_CALL",
    "R_PAST_DUE": "SPECIALIST_CALL",
    "R_PAST_DUE_6M": "SPECIALIST_CALL",
    "R_LATE_PAYMENTS": "SPECIALIST_CALL",
}
_CHANNEL_BY_BAND = {"CRITICAL": "CALL", "HIGH": "SMS", "MEDIUM": "EMAIL", "LOW": "EMAIL"}
_PRIORITY_BY_BAND = {"CRITICAL": "URGENT", "HIGH": "HIGH", "MEDIUM": "NORMAL", "LOW": "LOW"}


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    channel: str
    priority: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class ThresholdPolicy:
    enabled: bool
    threshold: int
    version: str = "threshold-v1"
    expiry_days: int = 7

    def decide(self, score: int, band: str, reasons: tuple[Reason, ...],
               now_ms: int) -> Decision | None:
        """An intervention for this score, or None when the policy does not act."""
        if not self.enabled or score < self.threshold:
            return None
        top = reasons[0].code if reasons else ""
        action = ACTION_BY_REASON.get(top, "BUDGETING_SUPPORT")
        channel = "CALL" if action == "SPECIALIST_CALL" else _CHANNEL_BY_BAND[band]
        return Decision(action, channel, _PRIORITY_BY_BAND[band],
                        now_ms + self.expiry_days * DAY_MS)

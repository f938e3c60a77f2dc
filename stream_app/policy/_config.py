"""The intervention policy file: a validated, versioned description of who is contacted how.

JSON, read by pydantic (unknown keys and invalid values are refused with the path of the
problem). The built-in ``default_policy.json`` is used when ``POLICY_PATH`` is unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stream_app.scoring import Band, BandCutoffs

from ._contact import MAX_CONTACTS

__all__ = ["DEFAULT_POLICY_PATH", "Action", "ArrearsPolicy", "PolicyConfig", "PolicyFileError",
           "load_policy"]

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.json")

Action = Literal["PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN", "SPECIALIST_CALL",
                 "BUDGETING_SUPPORT", "OTHER", "ARREARS_REMINDER", "HARDSHIP_ASSESSMENT",
                 "COLLECTIONS_HANDOFF"]
ArrearsAction = Literal["ARREARS_REMINDER", "HARDSHIP_ASSESSMENT", "COLLECTIONS_HANDOFF",
                        "SPECIALIST_CALL", "OTHER"]
PRE_DELINQUENCY_ACTIONS = ("PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN",
                           "SPECIALIST_CALL", "BUDGETING_SUPPORT", "OTHER")
Channel = Literal["SMS", "EMAIL", "PUSH", "CALL", "LETTER", "OTHER"]
Priority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
BANDS: tuple[Band, ...] = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class PolicyFileError(ValueError):
    """The policy file is missing or invalid; the message lists every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandsConfig(_Strict):
    medium: int = Field(ge=1, le=100)
    high: int = Field(ge=1, le=100)
    critical: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> BandsConfig:
        if not self.medium < self.high < self.critical:
            raise ValueError("band cut-offs must satisfy medium < high < critical")
        return self


class ContactCap(_Strict):
    days: int = Field(ge=1, le=365)
    # at most the remembered contacts: a larger cap could never be reached
    max_contacts: int = Field(ge=1, le=MAX_CONTACTS)


class ExperimentConfig(_Strict):
    id: str = Field(min_length=1, max_length=64)
    control_fraction: float = Field(ge=0.0, le=0.5)


class VulnerableRoute(_Strict):
    """How customers flagged vulnerable are contacted instead of automated messages."""

    action: Action = "SPECIALIST_CALL"
    channel: Channel = "CALL"
    priority: Priority = "HIGH"


class ArrearsPolicy(_Strict):
    """The arrears track's own action family: never competes with the pre-delinquency
    threshold. In order: a hardship signal (income lost or cut, salary missing) gets a
    hardship assessment; otherwise a customer at or past ``collections_min_days_past_due``,
    or whose roll probability reaches ``collections_min_roll_probability``, is handed to
    collections; otherwise (early arrears likely to cure) an arrears reminder."""

    hardship_action: ArrearsAction = "HARDSHIP_ASSESSMENT"
    collections_action: ArrearsAction = "COLLECTIONS_HANDOFF"
    reminder_action: ArrearsAction = "ARREARS_REMINDER"
    collections_min_days_past_due: int = Field(default=30, ge=1, le=3650)
    collections_min_roll_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    channel_by_action: dict[ArrearsAction, Channel] = {
        "ARREARS_REMINDER": "SMS", "HARDSHIP_ASSESSMENT": "CALL", "COLLECTIONS_HANDOFF": "CALL"}
    priority_by_bucket: dict[Literal["1-29", "30-59", "60-89", "90+"], Priority] = {
        "1-29": "NORMAL", "30-59": "HIGH", "60-89": "URGENT", "90+": "URGENT"}

    @model_validator(mode="after")
    def _complete(self) -> ArrearsPolicy:
        missing = [a for a in (self.hardship_action, self.collections_action,
                               self.reminder_action) if a not in self.channel_by_action]
        if missing:
            raise ValueError(f"channel_by_action lacks {', '.join(sorted(set(missing)))}")
        buckets = [b for b in ("1-29", "30-59", "60-89", "90+") if b not in
                   self.priority_by_bucket]
        if buckets:
            raise ValueError(f"priority_by_bucket lacks {', '.join(buckets)}")
        return self


class PolicyConfig(_Strict):
    version: str = Field(min_length=1, max_length=64)
    bands: BandsConfig
    actions_by_reason: dict[str, Action]
    default_action: Action
    channel_by_band: dict[Band, Channel]
    channel_by_action: dict[Action, Channel] = {}
    priority_by_band: dict[Band, Priority]
    expiry_days: dict[Action, int] = {}
    default_expiry_days: int = Field(ge=1, le=90)
    cooldown_days: dict[Action, int] = {}
    contact_caps: list[ContactCap] = []
    experiment: ExperimentConfig
    vulnerable: VulnerableRoute = VulnerableRoute()
    arrears: ArrearsPolicy = ArrearsPolicy()

    @model_validator(mode="after")
    def _complete(self) -> PolicyConfig:
        wrong = sorted({a for a in (*self.actions_by_reason.values(), self.default_action)
                        if a not in PRE_DELINQUENCY_ACTIONS})
        if wrong:
            raise ValueError(f"{', '.join(wrong)} belong to the arrears track (the arrears "
                             "section), not to the pre-delinquency actions")
        for name, mapping in (("channel_by_band", self.channel_by_band),
                              ("priority_by_band", self.priority_by_band)):
            missing = [band for band in BANDS if band not in mapping]
            if missing:
                raise ValueError(f"{name} lacks {', '.join(missing)}")
        for name, days in (("expiry_days", self.expiry_days),
                           ("cooldown_days", self.cooldown_days)):
            if any(not 0 <= d <= 365 for d in days.values()):
                raise ValueError(f"{name} must be between 0 and 365 days")
        return self

    @property
    def band_cutoffs(self) -> BandCutoffs:
        return BandCutoffs(self.bands.medium, self.bands.high, self.bands.critical)

    @property
    def memory_days(self) -> int:
        """How long contacts must be remembered for the cooldowns and caps."""
        spans = [*self.cooldown_days.values(), *(c.days for c in self.contact_caps), 1]
        return max(spans)


def load_policy(path: str | Path | None = None) -> PolicyConfig:
    """Read and validate a policy file (the built-in default when ``path`` is None)."""
    file = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        text = file.read_bytes()  # not decoded here: bad UTF-8 is refused as invalid JSON
    except OSError as exc:
        raise PolicyFileError(f"cannot read the policy file {file}: {exc.strerror}") from None
    try:
        return PolicyConfig.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors())
        raise PolicyFileError(f"invalid policy file {file}: {problems}") from None

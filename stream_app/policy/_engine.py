"""The intervention policy engine (pure): track, score, band and reasons -> a decision.

The two tracks never compete for one threshold. **Pre-delinquency** (the customer is
current): a decision only for a score at or above ``AUTO_TRIGGER_THRESHOLD``, with an action
from the top reason. **Arrears** (an amount is past due): the policy's ``arrears`` section
decides for every arrears score (hardship assessment, collections hand-off or an arrears
reminder; see :class:`~stream_app.policy._config.ArrearsPolicy`), whatever the threshold.
Then, on both tracks and with interventions enabled:

1. ``deceased`` or ``bankruptcy`` flag: suppressed (no contact of any kind);
2. ``opt_out`` or ``hardship_plan`` flag: suppressed;
3. ``vulnerable`` flag: routed to the specialist team (the policy's ``vulnerable`` route)
   instead of an automated message;
4. otherwise, pre-delinquency: the action follows the top reason (``actions_by_reason``),
   the channel and the priority follow the band (``channel_by_action`` overrides the
   channel); arrears: the channel follows the action, the priority the days-past-due bucket;
5. cooldown: the same action within ``cooldown_days[action]`` days: suppressed (``cooldown``);
6. contact caps: ``max_contacts`` already within ``days``: suppressed (``cap_<days>d``);
7. control group: a deterministic ``control_fraction`` of customers (hash of the customer id
   and the experiment id) is in the CONTROL arm: recorded, not actionable. The arm belongs to
   the customer, so suppressed decisions of a CONTROL customer carry ``CONTROL`` too.

Every decision is returned, suppressed ones too (``actionable=False`` and ``rule``), so that it
can be recorded. A decision that would contact the customer (TREATMENT or CONTROL) is added to
the contact history, so both arms follow the same cadence and uplift can be measured.

Cooldowns and caps count contacts by when they were made: the wall-clock time of the decision
(``now_ms``), never the event time of the input that triggered it, which an upstream producer
chooses (a contact dated in the future or the past by its trigger would fall outside every
window and let the next contacts through).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from stream_app.events import Reason
from stream_app.scoring import BUCKETS, Band, BandCutoffs, bucket_of

from ._config import Action, PolicyConfig
from ._contact import (
    FLAG_BANKRUPTCY,
    FLAG_DECEASED,
    FLAG_HARDSHIP_PLAN,
    FLAG_OPT_OUT,
    FLAG_VULNERABLE,
    ContactState,
)

__all__ = ["Decision", "InterventionPolicy", "in_control_group"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    channel: str
    priority: str
    expires_at: int
    experiment_arm: str  # TREATMENT | CONTROL
    actionable: bool
    rule: str | None  # the rule that suppressed or rerouted the decision


def in_control_group(customer_id: str, experiment_id: str, fraction: float) -> bool:
    digest = hashlib.blake2b(f"{experiment_id}|{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


class InterventionPolicy:
    def __init__(self, config: PolicyConfig, *, enabled: bool, threshold: int) -> None:
        self.config = config
        self.enabled = enabled
        self.threshold = threshold
        self.version = config.version
        self.bands: BandCutoffs = config.band_cutoffs
        self._memory_ms = config.memory_days * DAY_MS

    def considers(self, score: int, *, arrears: bool = False) -> bool:
        """Whether a score gets a decision: every arrears score, a pre-delinquency score at
        or above the threshold (and nothing while interventions are disabled)."""
        return self.enabled and (arrears or score >= self.threshold)

    def decide(self, *, customer_id: str, score: int, band: Band, reasons: tuple[Reason, ...],
               now_ms: int, contact: ContactState) -> Decision | None:
        """The pre-delinquency decision for this score (None below the threshold or when
        disabled); records the contact in ``contact`` when the decision would contact the
        customer."""
        if not self.considers(score):
            return None
        config = self.config
        top = reasons[0].code if reasons else ""
        action = config.actions_by_reason.get(top, config.default_action)
        channel = config.channel_by_action.get(action, config.channel_by_band[band])
        priority = config.priority_by_band[band]
        return self._apply_rules(customer_id, action, channel, priority, now_ms=now_ms,
                                 contact=contact)

    def decide_arrears(self, *, customer_id: str, days_past_due: int, roll_probability: float,
                       hardship: bool, now_ms: int,
                       contact: ContactState) -> Decision | None:
        """The arrears-track decision (None when interventions are disabled)."""
        if not self.considers(0, arrears=True):
            return None
        arrears = self.config.arrears
        action: Action
        if hardship:
            action = arrears.hardship_action
        elif (days_past_due >= arrears.collections_min_days_past_due
              or roll_probability >= arrears.collections_min_roll_probability):
            action = arrears.collections_action
        else:
            action = arrears.reminder_action
        channel = arrears.channel_by_action.get(action, "CALL")
        by_bucket = {str(bucket): value for bucket, value in arrears.priority_by_bucket.items()}
        priority = by_bucket[BUCKETS[bucket_of(days_past_due)]]
        return self._apply_rules(customer_id, action, channel, priority, now_ms=now_ms,
                                 contact=contact)

    def _apply_rules(self, customer_id: str, action: Action, channel: str, priority: str, *,
                     now_ms: int, contact: ContactState) -> Decision:
        config = self.config
        rule: str | None = None
        if contact.has(FLAG_VULNERABLE):
            route = config.vulnerable
            action, channel, priority, rule = route.action, route.channel, route.priority, \
                "vulnerable"
        expires_at = now_ms + config.expiry_days.get(action, config.default_expiry_days) * DAY_MS
        # the arm is a property of the customer: suppressed decisions keep it too, so that an
        # uplift analysis can group every decision by arm
        experiment = config.experiment
        arm = ("CONTROL" if in_control_group(customer_id, experiment.id,
                                             experiment.control_fraction) else "TREATMENT")

        def suppressed(name: str) -> Decision:
            return Decision(action, channel, priority, expires_at, arm, False, name)

        for flag, name in ((FLAG_DECEASED, "deceased"), (FLAG_BANKRUPTCY, "bankruptcy"),
                           (FLAG_OPT_OUT, "opt_out"), (FLAG_HARDSHIP_PLAN, "hardship_plan")):
            if contact.has(flag):
                return suppressed(name)
        contact.made_by(now_ms)
        cooldown = config.cooldown_days.get(action, 0)
        if cooldown and contact.contacts_since(now_ms - cooldown * DAY_MS, now_ms, action):
            return suppressed("cooldown")
        for cap in config.contact_caps:
            if contact.contacts_since(now_ms - cap.days * DAY_MS, now_ms) >= cap.max_contacts:
                return suppressed(f"cap_{cap.days}d")
        contact.record(now_ms, action, self._memory_ms)
        return Decision(action, channel, priority, expires_at, arm, arm == "TREATMENT", rule)

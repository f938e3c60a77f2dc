"""InterventionPolicy: the contact rules of the module docstring, one table row per rule/flag.

Expectations are written by hand from the documented rules and the default policy
(docs/policy.md), never produced by the code under test. The wall-clock time of the decision
(``now_ms``) drives the cooldowns, the caps and the expiry; no event time does (the helpers'
``at`` only sets ``now_ms`` an hour and a bit later).
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from stream_app.events import CustomerFlags, Reason
from stream_app.features import FEATURES
from stream_app.policy import (
    ContactState,
    Decision,
    InterventionPolicy,
    PolicyConfig,
    in_control_group,
    load_policy,
)
from stream_app.policy._config import ArrearsPolicy

DAY = 86_400_000
AT = 1_767_225_600_000  # event time of the decision under test (2026-01-01T00:00Z)
NOW = AT + 3_600_000 + 123  # wall clock of the decision (an hour and a bit later)
EXPERIMENT = "uplift-2026"
REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "intervention.v1.rev3.avsc"

# The default policy (contact-policy-2026-12), written out by hand. The codes of an amount past
# due today (R_PAST_DUE, R_MULTIPLE_ARREARS, R_AMOUNT_PAST_DUE) are not mapped: a customer with
# one is on the arrears track and never gets a pre-delinquency decision.
ACTION_BY_REASON = {
    "R_SALARY_DELAY": "PAYMENT_DATE_MOVE",
    "R_SALARY_MISSED": "PAYMENT_DATE_MOVE",
    "R_SALARY_GAP": "PAYMENT_DATE_MOVE",
    "R_SALARY_SMALLER": "PAYMENT_DATE_MOVE",
    "R_IRREGULAR_SALARY": "PAYMENT_DATE_MOVE",
    "R_INCOME_DROP": "PAYMENT_DATE_MOVE",
    "R_LOW_INCOME": "PAYMENT_DATE_MOVE",
    "R_LOW_INCOME_60D": "PAYMENT_DATE_MOVE",
    "R_FAILED_DD": "PAYMENT_REMINDER",
    "R_FAILED_DD_90D": "PAYMENT_REMINDER",
    "R_NSF_DECLINES": "PAYMENT_REMINDER",
    "R_DUE_SOON_SHORTFALL": "PAYMENT_REMINDER",
    "R_DUES_NOT_COVERED": "PAYMENT_REMINDER",
    "R_UNDERPAYMENT": "PAYMENT_REMINDER",
    "R_HIGH_UTILISATION": "INSTALMENT_PLAN",
    "R_UTILISATION_RISING": "INSTALMENT_PLAN",
    "R_UTILISATION_CREEP": "INSTALMENT_PLAN",
    "R_BALANCE_GROWTH": "INSTALMENT_PLAN",
    "R_MIN_PAYMENTS": "INSTALMENT_PLAN",
    "R_LOW_SHARE_PAID": "INSTALMENT_PLAN",
    "R_LOW_SHARE_PAID_6S": "INSTALMENT_PLAN",
    "R_PAYMENTS_FALLING": "INSTALMENT_PLAN",
    "R_LIMIT_CHANGE": "INSTALMENT_PLAN",
    "R_SHORT_RUNWAY": "BUDGETING_SUPPORT",
    "R_SAVINGS_DRAWDOWN": "BUDGETING_SUPPORT",
    "R_NEW_CREDIT": "BUDGETING_SUPPORT",
    "R_LATE_PAYMENTS": "SPECIALIST_CALL",
    "R_PAID_AFTER_DUE": "SPECIALIST_CALL",
    "R_ARREARS_MONTHS_6M": "SPECIALIST_CALL",
    "R_ARREARS_MONTHS_12M": "SPECIALIST_CALL",
    "R_PAST_DUE_6M": "SPECIALIST_CALL",
    "R_PAST_DUE_12M": "SPECIALIST_CALL",
}
ARREARS_NOW_CODES = ("R_PAST_DUE", "R_MULTIPLE_ARREARS", "R_AMOUNT_PAST_DUE")
# One top reason per action (None: no reason at all -> the default action).
REASON_FOR = {
    "PAYMENT_DATE_MOVE": "R_SALARY_DELAY",
    "PAYMENT_REMINDER": "R_FAILED_DD",
    "INSTALMENT_PLAN": "R_HIGH_UTILISATION",
    "SPECIALIST_CALL": "R_LATE_PAYMENTS",
    "BUDGETING_SUPPORT": "R_GAMBLING_RISE",
}
SCORE_IN = {"LOW": 10, "MEDIUM": 45, "HIGH": 70, "CRITICAL": 90}
FLAG_FIELDS = {
    "opt_out": "opt_out_contact",
    "vulnerable": "vulnerable",
    "hardship_plan": "hardship_plan",
    "deceased": "deceased",
    "bankruptcy": "bankruptcy",
}
SUPPRESSING_FLAGS = ("deceased", "bankruptcy", "opt_out", "hardship_plan")


# --- an independent re-implementation of the documented control-group hash -----------------

def hash_point(customer_id: str, experiment_id: str = EXPERIMENT) -> float:
    """blake2b(f"{experiment_id}|{customer_id}", digest_size=8) as a fraction of 2**64."""
    hexdigest = hashlib.blake2b(f"{experiment_id}|{customer_id}".encode(),
                                digest_size=8).hexdigest()
    return int(hexdigest, 16) / 2**64


def first_customer(low: float, high: float) -> str:
    return next(f"cust-{i:05d}" for i in range(100_000)
                if low <= hash_point(f"cust-{i:05d}") < high)


TREATMENT_ID = first_customer(0.5, 1.0)  # TREATMENT for any control_fraction <= 0.5
OTHER_TREATMENT_ID = next(f"cust-{i:05d}" for i in range(100_000)
                          if hash_point(f"cust-{i:05d}") >= 0.5 and f"cust-{i:05d}" != TREATMENT_ID)
CONTROL_ID = first_customer(0.0, 0.1)  # CONTROL under the default 10%


# --- helpers ---------------------------------------------------------------------------------

def reason(code: str, contribution: float = 0.5) -> Reason:
    spec = next((f for f in FEATURES if f.reason_code == code), None)
    if spec is None:
        return Reason(code, "unknown_feature", 1.0, contribution, "not in the catalogue")
    return Reason(code, spec.name, 1.0, contribution, spec.reason_text)


def reasons_for(code: str | None) -> tuple[Reason, ...]:
    """``code`` on top, then a weaker reason mapped to another action (must not matter)."""
    if code is None:
        return ()
    other = ("R_LATE_PAYMENTS" if ACTION_BY_REASON.get(code) != "SPECIALIST_CALL"
             else "R_FAILED_DD")
    return (reason(code, 0.9), reason(other, 0.2))


def default_dict() -> dict[str, Any]:
    return json.loads((REPO / "stream_app" / "policy" / "default_policy.json").read_text())


def config_with(**overrides: Any) -> PolicyConfig:
    """The default policy with top-level keys replaced (nested dicts are merged)."""
    data = default_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return PolicyConfig.model_validate(data)


def engine(config: PolicyConfig | None = None, *, enabled: bool = True,
           threshold: int = 0) -> InterventionPolicy:
    return InterventionPolicy(config or load_policy(), enabled=enabled, threshold=threshold)


def decide(policy: InterventionPolicy, contact: ContactState, *, code: str | None = "R_FAILED_DD",
           band: str = "HIGH", score: int | None = None, at: int = AT, now: int | None = None,
           customer: str = TREATMENT_ID) -> Decision | None:
    return policy.decide(customer_id=customer, score=SCORE_IN[band] if score is None else score,
                         band=band, reasons=reasons_for(code),
                         now_ms=at + (NOW - AT) if now is None else now, contact=contact)


def must_decide(policy: InterventionPolicy, contact: ContactState, **kwargs: Any) -> Decision:
    decision = decide(policy, contact, **kwargs)
    assert decision is not None
    return decision


def flagged(*names: str, at: int = 1) -> ContactState:
    state = ContactState()
    set_flags(state, *names, at=at)
    return state


def set_flags(state: ContactState, *names: str, at: int) -> None:
    state.apply_flags(CustomerFlags(event_id=f"flags-{at}", customer_id=TREATMENT_ID,
                                    occurred_at=at,
                                    **{FLAG_FIELDS[name]: True for name in names}))


def contacted(policy: InterventionPolicy, state: ContactState,
              priors: tuple[tuple[str, int], ...], customer: str = TREATMENT_ID) -> None:
    """Earlier decisions (action, age before AT in ms), each of which must be recorded."""
    for action, age in sorted(priors, key=lambda p: -p[1]):
        before = len(state.contacts)
        d = must_decide(policy, state, code=REASON_FOR[action], at=AT - age, customer=customer)
        assert d.rule is None, f"prior {action} at -{age} ms was suppressed by {d.rule}"
        assert len(state.contacts) == before + 1


def expect_suppressed(decision: Decision | None, state: ContactState,
                      contacts_before: int | list[tuple[int, str]], rule: str) -> None:
    assert decision is not None
    assert (decision.actionable, decision.rule) == (False, rule)
    if isinstance(contacts_before, list):
        assert state.contacts == contacts_before, "a suppressed decision must not be recorded"
    else:
        assert len(state.contacts) == contacts_before, "a suppressed decision must not be recorded"


# --- 1. threshold and switch -----------------------------------------------------------------

@pytest.mark.parametrize(("enabled", "threshold", "score", "decides"), [
    pytest.param(True, 80, 79, False, id="one-below-threshold"),
    pytest.param(True, 80, 0, False, id="score-zero-below-threshold"),
    pytest.param(True, 80, 80, True, id="at-threshold-inclusive"),
    pytest.param(True, 80, 100, True, id="above-threshold"),
    pytest.param(True, 0, 0, True, id="threshold-zero-takes-everything"),
    pytest.param(False, 80, 100, False, id="disabled-max-score"),
    pytest.param(False, 0, 0, False, id="disabled-threshold-zero"),
])
def test_threshold_and_switch(enabled: bool, threshold: int, score: int, decides: bool) -> None:
    policy = engine(enabled=enabled, threshold=threshold)
    state = ContactState()
    assert policy.considers(score) is decides
    decision = decide(policy, state, score=score, band="CRITICAL")
    assert (decision is not None) is decides
    assert len(state.contacts) == (1 if decides else 0)


# --- 4. action, channel, priority, expiry ----------------------------------------------------

UNMAPPED_CATALOGUE_CODES = sorted({f.reason_code for f in FEATURES} - set(ACTION_BY_REASON))


@pytest.mark.parametrize(("code", "action"), [
    *(pytest.param(code, action, id=f"{code}->{action}")
      for code, action in ACTION_BY_REASON.items()),
    *(pytest.param(code, "BUDGETING_SUPPORT", id=f"unmapped-{code}")
      for code in UNMAPPED_CATALOGUE_CODES),
    pytest.param("R_NOT_IN_THE_CATALOGUE", "BUDGETING_SUPPORT", id="unknown-code"),
    pytest.param("", "BUDGETING_SUPPORT", id="empty-code"),
    pytest.param(None, "BUDGETING_SUPPORT", id="no-reasons"),
])
def test_action_follows_the_top_reason(code: str | None, action: str) -> None:
    state = ContactState()
    decision = must_decide(engine(), state, code=code)
    assert decision.action == action
    assert (decision.actionable, decision.rule, decision.experiment_arm) == (
        True, None, "TREATMENT")
    assert state.contacts == [(NOW, action)]


def test_the_action_table_is_the_whole_default_mapping() -> None:
    config = load_policy()
    assert config.actions_by_reason == ACTION_BY_REASON
    assert config.default_action == "BUDGETING_SUPPORT"
    catalogue = {f.reason_code for f in FEATURES}
    assert set(ACTION_BY_REASON) <= catalogue, "the policy maps codes the model never emits"
    assert UNMAPPED_CATALOGUE_CODES, "the default action must be reachable from the catalogue"


@pytest.mark.parametrize(("code", "band", "channel", "priority"), [
    pytest.param("R_FAILED_DD", "LOW", "EMAIL", "LOW", id="reminder-LOW"),
    pytest.param("R_FAILED_DD", "MEDIUM", "EMAIL", "NORMAL", id="reminder-MEDIUM"),
    pytest.param("R_FAILED_DD", "HIGH", "SMS", "HIGH", id="reminder-HIGH"),
    pytest.param("R_FAILED_DD", "CRITICAL", "CALL", "URGENT", id="reminder-CRITICAL"),
    pytest.param(None, "LOW", "EMAIL", "LOW", id="budgeting-LOW"),
    pytest.param("R_SALARY_DELAY", "HIGH", "SMS", "HIGH", id="date-move-HIGH"),
    pytest.param("R_MIN_PAYMENTS", "MEDIUM", "EMAIL", "NORMAL", id="instalment-MEDIUM"),
    # channel_by_action: SPECIALIST_CALL is always a CALL; the priority still follows the band
    pytest.param("R_LATE_PAYMENTS", "LOW", "CALL", "LOW", id="specialist-override-LOW"),
    pytest.param("R_PAID_AFTER_DUE", "MEDIUM", "CALL", "NORMAL",
                 id="specialist-override-MEDIUM"),
    pytest.param("R_PAST_DUE_12M", "HIGH", "CALL", "HIGH", id="specialist-override-HIGH"),
    pytest.param("R_LATE_PAYMENTS", "CRITICAL", "CALL", "URGENT",
                 id="specialist-override-CRITICAL"),
])
def test_channel_and_priority_follow_the_band(code: str | None, band: str, channel: str,
                                              priority: str) -> None:
    decision = must_decide(engine(), ContactState(), code=code, band=band)
    assert (decision.channel, decision.priority) == (channel, priority)


@pytest.mark.parametrize(("code", "band", "channel"), [
    pytest.param("R_FAILED_DD", "LOW", "PUSH", id="overridden-action-LOW"),
    pytest.param("R_FAILED_DD", "CRITICAL", "PUSH", id="overridden-action-CRITICAL"),
    pytest.param("R_SALARY_DELAY", "HIGH", "SMS", id="other-action-keeps-band-channel"),
    pytest.param("R_LATE_PAYMENTS", "LOW", "CALL", id="default-override-kept"),
])
def test_channel_by_action_overrides_the_band(code: str, band: str, channel: str) -> None:
    config = config_with(channel_by_action={"PAYMENT_REMINDER": "PUSH"})
    assert must_decide(engine(config), ContactState(), code=code, band=band).channel == channel


@pytest.mark.parametrize(("code", "flags", "days"), [
    pytest.param("R_FAILED_DD", (), 3, id="reminder-3d"),
    pytest.param("R_LATE_PAYMENTS", (), 2, id="specialist-2d"),
    pytest.param("R_SALARY_DELAY", (), 7, id="date-move-default-7d"),
    pytest.param("R_HIGH_UTILISATION", (), 7, id="instalment-default-7d"),
    pytest.param(None, (), 7, id="budgeting-default-7d"),
    pytest.param("R_FAILED_DD", ("vulnerable",), 2, id="vulnerable-specialist-2d"),
])
def test_expiry_counts_from_the_wall_clock(code: str | None, flags: tuple[str, ...],
                                           days: int) -> None:
    now = AT + 5 * DAY + 17  # the expiry counts from the wall clock
    decision = must_decide(engine(), flagged(*flags), code=code, now=now)
    assert decision.expires_at == now + days * DAY


# --- 1-2. suppressing flags ------------------------------------------------------------------

@pytest.mark.parametrize("customer", [
    pytest.param(TREATMENT_ID, id="treatment-customer"),
    pytest.param(CONTROL_ID, id="control-customer"),
])
@pytest.mark.parametrize("flag", SUPPRESSING_FLAGS)
def test_flags_suppress_without_recording_a_contact(flag: str, customer: str) -> None:
    policy = engine()
    state = flagged(flag)
    stored = state.to_bytes()
    decision = decide(policy, state, code="R_FAILED_DD", band="CRITICAL", customer=customer)
    expect_suppressed(decision, state, 0, flag)
    assert decision is not None
    assert decision.action == "PAYMENT_REMINDER"  # what was suppressed, for the audit trail
    assert state.to_bytes() == stored
    # once the flag is lifted, nothing suppressed earlier counts as a contact
    set_flags(state, at=2)
    after = must_decide(policy, state, code="R_FAILED_DD", at=AT + 1, customer=customer)
    assert after.rule is None
    assert state.contacts == [(NOW + 1, "PAYMENT_REMINDER")]


@pytest.mark.parametrize(("flags", "rule"), [
    pytest.param(("deceased", "bankruptcy"), "deceased", id="deceased-before-bankruptcy"),
    pytest.param(("deceased", "opt_out"), "deceased", id="deceased-before-opt_out"),
    pytest.param(("deceased", "hardship_plan"), "deceased", id="deceased-before-hardship"),
    pytest.param(("deceased", "vulnerable"), "deceased", id="deceased-before-vulnerable"),
    pytest.param(("bankruptcy", "opt_out"), "bankruptcy", id="bankruptcy-before-opt_out"),
    pytest.param(("bankruptcy", "hardship_plan"), "bankruptcy",
                 id="bankruptcy-before-hardship"),
    pytest.param(("bankruptcy", "vulnerable"), "bankruptcy", id="bankruptcy-before-vulnerable"),
    pytest.param(("opt_out", "hardship_plan"), "opt_out", id="opt_out-before-hardship"),
    pytest.param(("opt_out", "vulnerable"), "opt_out", id="opt_out-before-vulnerable"),
    pytest.param(("hardship_plan", "vulnerable"), "hardship_plan",
                 id="hardship-before-vulnerable"),
    pytest.param(("bankruptcy", "opt_out", "hardship_plan", "vulnerable"), "bankruptcy",
                 id="all-but-deceased"),
    pytest.param(tuple(FLAG_FIELDS), "deceased", id="all-five"),
])
def test_flag_precedence(flags: tuple[str, ...], rule: str) -> None:
    state = flagged(*flags)
    expect_suppressed(decide(engine(), state), state, 0, rule)


@pytest.mark.parametrize("flag", SUPPRESSING_FLAGS)
def test_flags_come_before_cooldown_and_caps(flag: str) -> None:
    policy = engine()
    state = ContactState()
    contacted(policy, state, (("PAYMENT_REMINDER", DAY),))  # would be cooldown and cap_7d
    set_flags(state, flag, at=AT - 1)
    expect_suppressed(decide(policy, state, code="R_FAILED_DD"), state, 1, flag)


# --- 3. vulnerable ---------------------------------------------------------------------------

@pytest.mark.parametrize("band", ["LOW", "MEDIUM", "HIGH", "CRITICAL"])
@pytest.mark.parametrize("code", ["R_FAILED_DD", "R_SALARY_DELAY", "R_LATE_PAYMENTS", None])
def test_vulnerable_customers_go_to_the_specialist_team(code: str | None, band: str) -> None:
    state = flagged("vulnerable")
    decision = must_decide(engine(), state, code=code, band=band)
    assert (decision.action, decision.channel, decision.priority) == (
        "SPECIALIST_CALL", "CALL", "HIGH")
    assert (decision.actionable, decision.rule, decision.experiment_arm) == (
        True, "vulnerable", "TREATMENT")
    assert state.contacts == [(NOW, "SPECIALIST_CALL")]


def test_the_vulnerable_route_comes_from_the_policy_file() -> None:
    config = config_with(vulnerable={"action": "BUDGETING_SUPPORT", "channel": "LETTER",
                                     "priority": "URGENT"})
    state = flagged("vulnerable")
    decision = must_decide(engine(config), state, code="R_LATE_PAYMENTS", band="LOW")
    assert (decision.action, decision.channel, decision.priority, decision.rule) == (
        "BUDGETING_SUPPORT", "LETTER", "URGENT", "vulnerable")
    assert decision.expires_at == NOW + 7 * DAY
    assert state.contacts == [(NOW, "BUDGETING_SUPPORT")]


@pytest.mark.parametrize(("prior", "age", "vulnerable_rule", "plain_rule"), [
    # the cooldown is that of the rerouted action (SPECIALIST_CALL, 14 days)
    pytest.param("SPECIALIST_CALL", 10 * DAY, "cooldown", None, id="specialist-10d-ago"),
    pytest.param("SPECIALIST_CALL", 14 * DAY - 1, "cooldown", None, id="specialist-14d-minus-1ms"),
    pytest.param("SPECIALIST_CALL", 14 * DAY, "vulnerable", None, id="specialist-14d-ago"),
    # a reminder 6 days ago: the plain reminder is in cooldown, the specialist call is capped
    pytest.param("PAYMENT_REMINDER", 6 * DAY, "cap_7d", "cooldown", id="reminder-6d-ago"),
    pytest.param("PAYMENT_REMINDER", 8 * DAY, "vulnerable", None, id="reminder-8d-ago"),
    pytest.param("PAYMENT_DATE_MOVE", 3 * DAY, "cap_7d", "cap_7d", id="date-move-3d-ago"),
])
def test_vulnerable_is_still_subject_to_cooldown_and_caps(
        prior: str, age: int, vulnerable_rule: str, plain_rule: str | None) -> None:
    policy = engine()
    for flags, rule in (((), plain_rule), (("vulnerable",), vulnerable_rule)):
        state = ContactState()
        contacted(policy, state, ((prior, age),))
        if flags:
            set_flags(state, *flags, at=AT - 1)
        decision = must_decide(policy, state, code="R_FAILED_DD")
        assert decision.rule == rule, flags
        recorded = rule in {None, "vulnerable"}
        assert decision.actionable is recorded
        assert len(state.contacts) == (2 if recorded else 1)


# --- 5. cooldown -----------------------------------------------------------------------------

@pytest.mark.parametrize(("prior", "age", "action", "rule"), [
    pytest.param("PAYMENT_REMINDER", 0, "PAYMENT_REMINDER", "cooldown", id="reminder-same-ms"),
    pytest.param("PAYMENT_REMINDER", 1, "PAYMENT_REMINDER", "cooldown", id="reminder-1ms-ago"),
    pytest.param("PAYMENT_REMINDER", 7 * DAY - 1, "PAYMENT_REMINDER", "cooldown",
                 id="reminder-7d-minus-1ms"),
    pytest.param("PAYMENT_REMINDER", 7 * DAY, "PAYMENT_REMINDER", None, id="reminder-exactly-7d"),
    pytest.param("PAYMENT_REMINDER", 9 * DAY, "PAYMENT_REMINDER", None, id="reminder-9d"),
    pytest.param("PAYMENT_DATE_MOVE", 8 * DAY, "PAYMENT_DATE_MOVE", "cooldown",
                 id="date-move-8d"),
    pytest.param("PAYMENT_DATE_MOVE", 30 * DAY - 1, "PAYMENT_DATE_MOVE", "cooldown",
                 id="date-move-30d-minus-1ms"),
    pytest.param("PAYMENT_DATE_MOVE", 30 * DAY, "PAYMENT_DATE_MOVE", None,
                 id="date-move-exactly-30d"),
    pytest.param("INSTALMENT_PLAN", 29 * DAY, "INSTALMENT_PLAN", "cooldown", id="instalment-29d"),
    pytest.param("INSTALMENT_PLAN", 30 * DAY, "INSTALMENT_PLAN", None,
                 id="instalment-exactly-30d"),
    pytest.param("SPECIALIST_CALL", 14 * DAY - 1, "SPECIALIST_CALL", "cooldown",
                 id="specialist-14d-minus-1ms"),
    pytest.param("SPECIALIST_CALL", 14 * DAY, "SPECIALIST_CALL", None,
                 id="specialist-exactly-14d"),
    pytest.param("BUDGETING_SUPPORT", 30 * DAY - 1, "BUDGETING_SUPPORT", "cooldown",
                 id="budgeting-30d-minus-1ms"),
    pytest.param("BUDGETING_SUPPORT", 30 * DAY, "BUDGETING_SUPPORT", None,
                 id="budgeting-exactly-30d"),
    # a different action is not blocked by the cooldown (only by the caps)
    pytest.param("PAYMENT_DATE_MOVE", 8 * DAY, "PAYMENT_REMINDER", None,
                 id="other-action-8d-not-blocked"),
    pytest.param("SPECIALIST_CALL", 10 * DAY, "INSTALMENT_PLAN", None,
                 id="other-action-10d-not-blocked"),
    pytest.param("PAYMENT_REMINDER", 3 * DAY, "PAYMENT_DATE_MOVE", "cap_7d",
                 id="other-action-3d-capped-not-cooldown"),
])
def test_cooldown_per_action(prior: str, age: int, action: str, rule: str | None) -> None:
    policy = engine()
    state = ContactState()
    contacted(policy, state, ((prior, age),))
    decision = must_decide(policy, state, code=REASON_FOR[action])
    assert decision.action == action
    if rule is None:
        assert (decision.actionable, decision.rule) == (True, None)
        kept = [(NOW - age, prior)] if age < 30 * DAY else []  # memory: 30 days
        assert state.contacts == [*kept, (NOW, action)]
    else:
        expect_suppressed(decision, state, 1, rule)


def test_cooldown_is_per_customer() -> None:
    policy = engine()
    first, second = ContactState(), ContactState()
    assert must_decide(policy, first, customer=TREATMENT_ID).actionable
    expect_suppressed(decide(policy, first, at=AT + DAY, customer=TREATMENT_ID), first, 1,
                      "cooldown")
    other = must_decide(policy, second, at=AT + DAY, customer=OTHER_TREATMENT_ID)
    assert (other.actionable, other.rule) == (True, None)


# --- 6. contact caps (1 in 7 days, 3 in 30 days) ---------------------------------------------

MONTH_OF_CONTACTS = (("PAYMENT_DATE_MOVE", 30 * DAY - 1), ("INSTALMENT_PLAN", 22 * DAY),
                     ("SPECIALIST_CALL", 14 * DAY))


@pytest.mark.parametrize(("priors", "rule"), [
    pytest.param((), None, id="no-history"),
    pytest.param((("PAYMENT_DATE_MOVE", 0),), "cap_7d", id="7d-same-ms"),
    pytest.param((("PAYMENT_DATE_MOVE", 1),), "cap_7d", id="7d-1ms-ago"),
    pytest.param((("PAYMENT_DATE_MOVE", 7 * DAY - 1),), "cap_7d", id="7d-minus-1ms"),
    pytest.param((("PAYMENT_DATE_MOVE", 7 * DAY),), None, id="7d-exactly-out-of-window"),
    pytest.param(MONTH_OF_CONTACTS, "cap_30d", id="30d-three-contacts"),
    pytest.param((("PAYMENT_DATE_MOVE", 30 * DAY), *MONTH_OF_CONTACTS[1:]), None,
                 id="30d-oldest-exactly-30d-out-of-window"),
    pytest.param(MONTH_OF_CONTACTS[1:], None, id="30d-two-contacts"),
    pytest.param((("PAYMENT_DATE_MOVE", 25 * DAY), ("INSTALMENT_PLAN", 15 * DAY),
                  ("SPECIALIST_CALL", 6 * DAY)), "cap_7d", id="both-caps-7d-reported-first"),
])
def test_contact_caps(priors: tuple[tuple[str, int], ...], rule: str | None) -> None:
    policy = engine()
    state = ContactState()
    contacted(policy, state, priors)
    before = list(state.contacts)
    decision = must_decide(policy, state, code="R_FAILED_DD")  # no reminder in the history
    if rule is None:
        assert (decision.actionable, decision.rule) == (True, None)
        assert state.contacts[-1] == (NOW, "PAYMENT_REMINDER")
    else:
        expect_suppressed(decision, state, before, rule)


def test_suppressed_decisions_do_not_count_towards_the_caps() -> None:
    policy = engine()
    state = ContactState()
    contacted(policy, state, (("PAYMENT_DATE_MOVE", DAY),))
    for day in range(6):  # AT .. AT+5d: within 7 days of the contact at AT-1d
        expect_suppressed(decide(policy, state, code="R_FAILED_DD", at=AT + day * DAY), state, 1,
                          "cap_7d")
    decision = must_decide(policy, state, code="R_FAILED_DD", at=AT + 6 * DAY)
    assert (decision.actionable, decision.rule) == (True, None)


def test_caps_and_cooldowns_count_contacts_by_the_decision_wall_clock() -> None:
    """The decision takes no event time: triggers dated days apart but decided at one
    moment (a backfill, or a producer dating events ahead) get one contact, not one each."""
    policy = engine()
    state = ContactState()
    first = must_decide(policy, state, code="R_FAILED_DD", now=NOW)
    assert (first.actionable, state.contacts) == (True, [(NOW, "PAYMENT_REMINDER")])
    for code, rule in (("R_FAILED_DD", "cooldown"), ("R_SALARY_DELAY", "cap_7d")):
        expect_suppressed(decide(policy, state, code=code, now=NOW + 60_000), state, 1, rule)


def test_a_contact_stored_at_a_future_event_time_still_counts() -> None:
    """A contact recorded (before this fix) at a trigger's far-future event time would have
    fallen outside every window: it counts as made by now."""
    policy = engine()
    state = ContactState()
    state.record(NOW + 400 * DAY, "PAYMENT_REMINDER", 30 * DAY)
    expect_suppressed(decide(policy, state, code="R_FAILED_DD", now=NOW), state,
                      [(NOW, "PAYMENT_REMINDER")], "cooldown")


def test_history_is_pruned_to_the_policy_memory() -> None:
    # default memory: the longest cooldown or cap window, 30 days
    policy = engine()
    state = ContactState()
    must_decide(policy, state, code="R_SALARY_DELAY", at=AT)
    must_decide(policy, state, code="R_FAILED_DD", at=AT + 8 * DAY)
    must_decide(policy, state, code="R_HIGH_UTILISATION", at=AT + 30 * DAY)
    assert state.contacts == [(NOW + 8 * DAY, "PAYMENT_REMINDER"),
                              (NOW + 30 * DAY, "INSTALMENT_PLAN")]


# --- 7. control group ------------------------------------------------------------------------

CUSTOMER_IDS = [f"cust-{i:05d}" for i in range(20_000)]
ODD_IDS = ["", "0", "ünïcødé-客户", "a|b", "C-" + "x" * 200, "cust 1", "uplift-2026"]


@pytest.mark.parametrize(("experiment", "fraction"), [
    pytest.param(EXPERIMENT, 0.1, id="default-10pct"),
    pytest.param(EXPERIMENT, 0.5, id="half"),
    pytest.param("retention-b", 0.25, id="other-experiment-25pct"),
    pytest.param("ëxp|2", 0.3, id="unicode-experiment-with-separator"),
    pytest.param(EXPERIMENT, 0.0, id="fraction-zero"),
])
def test_in_control_group_is_the_documented_hash(experiment: str, fraction: float) -> None:
    for customer in [*CUSTOMER_IDS[:2_000], *ODD_IDS]:
        expected = hash_point(customer, experiment) < fraction
        assert in_control_group(customer, experiment, fraction) is expected, customer


@pytest.mark.parametrize(("experiment", "fraction"), [
    pytest.param(EXPERIMENT, 0.1, id="default-10pct"),
    pytest.param(EXPERIMENT, 0.5, id="half"),
    pytest.param("retention-b", 0.05, id="other-experiment-5pct"),
    pytest.param("retention-c", 0.25, id="other-experiment-25pct"),
    pytest.param(EXPERIMENT, 0.0, id="fraction-zero-never-control"),
])
def test_control_share_is_close_to_the_fraction(experiment: str, fraction: float) -> None:
    n = len(CUSTOMER_IDS)
    share = sum(in_control_group(c, experiment, fraction) for c in CUSTOMER_IDS) / n
    tolerance = 4 * math.sqrt(fraction * (1 - fraction) / n)  # 4 standard errors (0 for 0%)
    assert abs(share - fraction) <= tolerance


def test_engine_arms_follow_the_hash_and_the_default_fraction() -> None:
    policy = engine()
    arms = {c: must_decide(policy, ContactState(), customer=c).experiment_arm
            for c in CUSTOMER_IDS}
    for customer, arm in arms.items():
        assert arm == ("CONTROL" if hash_point(customer) < 0.1 else "TREATMENT"), customer
    share = sum(arm == "CONTROL" for arm in arms.values()) / len(arms)
    assert abs(share - 0.1) <= 4 * math.sqrt(0.1 * 0.9 / len(arms))


def test_same_customer_same_arm_across_calls() -> None:
    policy = engine()
    for customer in (CONTROL_ID, TREATMENT_ID, *CUSTOMER_IDS[:50]):
        arms = {must_decide(policy, ContactState(), customer=customer, at=AT + i * DAY)
                .experiment_arm for i in range(3)}
        assert len(arms) == 1, customer


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_same_customer_same_arm_across_processes(hash_seed: str) -> None:
    ids = CUSTOMER_IDS[:300]
    script = ("import json, sys\n"
              "from stream_app.policy import in_control_group\n"
              "ids = json.load(sys.stdin)\n"
              f"print(json.dumps([in_control_group(c, {EXPERIMENT!r}, 0.1) for c in ids]))\n")
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(ids), cwd=REPO,
                         env={"PYTHONHASHSEED": hash_seed, "PATH": ""}, capture_output=True,
                         text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == [hash_point(c) < 0.1 for c in ids]


@pytest.mark.parametrize(("band", "code", "expected"), [
    pytest.param("HIGH", "R_FAILED_DD", ("PAYMENT_REMINDER", "SMS", "HIGH", 3), id="reminder"),
    pytest.param("CRITICAL", "R_LATE_PAYMENTS", ("SPECIALIST_CALL", "CALL", "URGENT", 2),
                 id="specialist"),
    pytest.param("MEDIUM", None, ("BUDGETING_SUPPORT", "EMAIL", "NORMAL", 7), id="budgeting"),
])
def test_control_decisions_are_recorded_not_actionable(
        band: str, code: str | None, expected: tuple[str, str, str, int]) -> None:
    action, channel, priority, days = expected
    state = ContactState()
    decision = must_decide(engine(), state, code=code, band=band, customer=CONTROL_ID)
    assert decision == Decision(action, channel, priority, NOW + days * DAY, "CONTROL", False,
                                None)
    assert state.contacts == [(NOW, action)]


def test_vulnerable_control_customer_keeps_the_rule() -> None:
    state = flagged("vulnerable")
    decision = must_decide(engine(), state, customer=CONTROL_ID)
    assert (decision.experiment_arm, decision.actionable, decision.rule, decision.action) == (
        "CONTROL", False, "vulnerable", "SPECIALIST_CALL")
    assert state.contacts == [(NOW, "SPECIALIST_CALL")]


# Both arms follow the same cadence: (days after AT, top reason, expected rule).
CADENCE = (
    (0, "R_FAILED_DD", None),
    (1, "R_FAILED_DD", "cooldown"),
    (2, "R_SALARY_DELAY", "cap_7d"),
    (7, "R_SALARY_DELAY", None),
    (14, "R_HIGH_UTILISATION", None),
    (21, "R_LATE_PAYMENTS", "cap_30d"),  # AT, AT+7d, AT+14d are within 30 days
    (30, "R_LATE_PAYMENTS", None),  # AT is exactly 30 days ago: out of the window
)


@pytest.mark.parametrize(("customer", "arm"), [
    pytest.param(CONTROL_ID, "CONTROL", id="control-arm"),
    pytest.param(TREATMENT_ID, "TREATMENT", id="treatment-arm"),
])
def test_both_arms_follow_the_same_cadence(customer: str, arm: str) -> None:
    policy = engine()
    state = ContactState()
    for day, code, rule in CADENCE:
        before = list(state.contacts)
        decision = must_decide(policy, state, code=code, at=AT + day * DAY, customer=customer)
        assert decision.rule == rule, (day, code)
        if rule is None:
            assert decision.experiment_arm == arm
            assert decision.actionable is (arm == "TREATMENT")
            assert state.contacts[-1] == (NOW + day * DAY, decision.action)
        else:
            expect_suppressed(decision, state, before, rule)


@pytest.mark.parametrize(("fraction", "arm"), [
    pytest.param(0.0, "TREATMENT", id="fraction-zero"),
    pytest.param(0.1, "CONTROL", id="default-fraction"),
])
def test_fraction_zero_never_puts_anyone_in_control(fraction: float, arm: str) -> None:
    config = config_with(experiment={"id": EXPERIMENT, "control_fraction": fraction})
    policy = engine(config)
    assert must_decide(policy, ContactState(), customer=CONTROL_ID).experiment_arm == arm
    if fraction == 0.0:
        assert not any(must_decide(policy, ContactState(), customer=c).experiment_arm
                       == "CONTROL" for c in CUSTOMER_IDS[:2_000])


# --- every decision fits the Avro contract ---------------------------------------------------

def schema_symbols() -> dict[str, set[str]]:
    schema = json.loads(SCHEMA.read_text())
    return {f["name"]: set(f["type"]["symbols"]) for f in schema["fields"]
            if isinstance(f["type"], dict) and f["type"].get("type") == "enum"}


def test_every_value_a_policy_file_allows_is_in_the_schema() -> None:
    symbols = schema_symbols()
    fields = PolicyConfig.model_fields
    actions = set(get_args(fields["default_action"].annotation))
    channels = set(get_args(get_args(fields["channel_by_band"].annotation)[1]))
    priorities = set(get_args(get_args(fields["priority_by_band"].annotation)[1]))
    assert actions <= symbols["action"]
    assert channels <= symbols["channel"]
    assert priorities <= symbols["priority"]


@pytest.mark.parametrize("flags", [
    pytest.param((), id="no-flags"),
    *(pytest.param((name,), id=name) for name in FLAG_FIELDS),
])
def test_every_decision_is_allowed_by_the_intervention_schema(flags: tuple[str, ...]) -> None:
    symbols = schema_symbols()
    policy = engine()
    codes = [*sorted({f.reason_code for f in FEATURES}), "R_UNKNOWN", None]
    known_rules = {None, "vulnerable", "cooldown", "cap_7d", "cap_30d", *SUPPRESSING_FLAGS}
    seen_arms = set()
    for customer in (TREATMENT_ID, CONTROL_ID):
        for band in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
            for code in codes:
                d = must_decide(policy, flagged(*flags), code=code, band=band, customer=customer)
                assert d.action in symbols["action"]
                assert d.channel in symbols["channel"]
                assert d.priority in symbols["priority"]
                assert d.experiment_arm in symbols["experiment_arm"]
                assert d.rule in known_rules
                seen_arms.add(d.experiment_arm)
    if not set(flags) & set(SUPPRESSING_FLAGS):
        assert seen_arms == {"TREATMENT", "CONTROL"}


# --- the arrears track -----------------------------------------------------------------------
# The policy's arrears section (defaults, docstring of ArrearsPolicy): a hardship signal gets
# HARDSHIP_ASSESSMENT; otherwise 30 or more days past due, or a roll probability of 0.5 or
# more, COLLECTIONS_HANDOFF; otherwise ARREARS_REMINDER. Channels: reminder SMS, the others
# CALL. Priority by days-past-due bucket: 1-29 NORMAL, 30-59 HIGH, 60-89 and 90+ URGENT.

ARREARS_ACTIONS = ("ARREARS_REMINDER", "HARDSHIP_ASSESSMENT", "COLLECTIONS_HANDOFF")
# arguments that lead to each arrears action under the default policy
ARREARS_CASE: dict[str, dict[str, Any]] = {
    "ARREARS_REMINDER": {"dpd": 10, "roll": 0.1, "hardship": False},
    "COLLECTIONS_HANDOFF": {"dpd": 45, "roll": 0.1, "hardship": False},
    "HARDSHIP_ASSESSMENT": {"dpd": 10, "roll": 0.1, "hardship": True},
}


def decide_arrears(policy: InterventionPolicy, contact: ContactState, *, dpd: int = 10,
                   roll: float = 0.1, hardship: bool = False, at: int = AT,
                   now: int | None = None, customer: str = TREATMENT_ID) -> Decision | None:
    return policy.decide_arrears(customer_id=customer, days_past_due=dpd, roll_probability=roll,
                                 hardship=hardship,
                                 now_ms=at + (NOW - AT) if now is None else now,
                                 contact=contact)


def must_decide_arrears(policy: InterventionPolicy, contact: ContactState,
                        **kwargs: Any) -> Decision:
    decision = decide_arrears(policy, contact, **kwargs)
    assert decision is not None
    return decision


def test_no_arrears_reason_code_is_mapped_to_a_pre_delinquency_action() -> None:
    arrears_now = {f.reason_code for f in FEATURES if f.group == "arrears_now"}
    assert arrears_now == set(ARREARS_NOW_CODES)
    assert not arrears_now & set(load_policy().actions_by_reason)
    assert set(ARREARS_NOW_CODES) <= set(UNMAPPED_CATALOGUE_CODES)


@pytest.mark.parametrize(("enabled", "threshold", "score", "arrears", "considered"), [
    pytest.param(True, 80, 0, True, True, id="arrears-score-0-below-threshold"),
    pytest.param(True, 100, 99, True, True, id="arrears-below-threshold-100"),
    pytest.param(True, 100, 99, False, False, id="pre-delinquency-below-threshold"),
    pytest.param(True, 100, 100, False, True, id="pre-delinquency-at-threshold"),
    pytest.param(False, 0, 100, True, False, id="arrears-disabled"),
    pytest.param(False, 0, 100, False, False, id="pre-delinquency-disabled"),
])
def test_considers_every_arrears_score_while_enabled(enabled: bool, threshold: int, score: int,
                                                    arrears: bool, considered: bool) -> None:
    policy = engine(enabled=enabled, threshold=threshold)
    assert policy.considers(score, arrears=arrears) is considered


def test_arrears_decisions_ignore_the_threshold_but_not_the_switch() -> None:
    state = ContactState()
    strict = engine(threshold=100)
    assert decide(strict, state, score=99, band="CRITICAL") is None
    decision = must_decide_arrears(strict, state)
    assert (decision.action, decision.actionable) == ("ARREARS_REMINDER", True)
    assert state.contacts == [(NOW, "ARREARS_REMINDER")]
    off, untouched = engine(enabled=False, threshold=0), ContactState()
    for action in ARREARS_ACTIONS:
        case = ARREARS_CASE[action]
        assert decide_arrears(off, untouched, **case) is None
    assert untouched.contacts == []


@pytest.mark.parametrize(("dpd", "roll", "hardship", "action"), [
    pytest.param(5, 0.1, False, "ARREARS_REMINDER", id="early-likely-to-cure"),
    pytest.param(0, 0.0, False, "ARREARS_REMINDER", id="computed-miss-no-reported-days"),
    pytest.param(29, 0.49, False, "ARREARS_REMINDER", id="just-below-both-thresholds"),
    pytest.param(30, 0.0, False, "COLLECTIONS_HANDOFF", id="30-days-inclusive"),
    pytest.param(120, 0.0, False, "COLLECTIONS_HANDOFF", id="long-past-due"),
    pytest.param(1, 0.5, False, "COLLECTIONS_HANDOFF", id="roll-0.5-inclusive"),
    pytest.param(1, 0.4999, False, "ARREARS_REMINDER", id="roll-just-below"),
    pytest.param(1, 1.0, False, "COLLECTIONS_HANDOFF", id="certain-roll"),
    # a hardship signal comes first, however late or likely to roll
    pytest.param(5, 0.1, True, "HARDSHIP_ASSESSMENT", id="hardship-early"),
    pytest.param(120, 0.9, True, "HARDSHIP_ASSESSMENT", id="hardship-before-collections"),
])
def test_the_arrears_action(dpd: int, roll: float, hardship: bool, action: str) -> None:
    state = ContactState()
    decision = must_decide_arrears(engine(), state, dpd=dpd, roll=roll, hardship=hardship)
    assert decision.action == action
    assert (decision.actionable, decision.rule, decision.experiment_arm) == (
        True, None, "TREATMENT")
    assert state.contacts == [(NOW, action)]


@pytest.mark.parametrize(("case", "dpd", "channel", "priority", "expiry_days"), [
    pytest.param("ARREARS_REMINDER", 0, "SMS", "NORMAL", 3, id="reminder-0d-counts-as-1-29"),
    pytest.param("ARREARS_REMINDER", 1, "SMS", "NORMAL", 3, id="reminder-1d"),
    pytest.param("ARREARS_REMINDER", 29, "SMS", "NORMAL", 3, id="reminder-29d"),
    pytest.param("COLLECTIONS_HANDOFF", 30, "CALL", "HIGH", 5, id="collections-30d"),
    pytest.param("COLLECTIONS_HANDOFF", 59, "CALL", "HIGH", 5, id="collections-59d"),
    pytest.param("COLLECTIONS_HANDOFF", 60, "CALL", "URGENT", 5, id="collections-60d"),
    pytest.param("COLLECTIONS_HANDOFF", 95, "CALL", "URGENT", 5, id="collections-95d"),
    pytest.param("HARDSHIP_ASSESSMENT", 3, "CALL", "NORMAL", 5, id="hardship-3d"),
    pytest.param("HARDSHIP_ASSESSMENT", 45, "CALL", "HIGH", 5, id="hardship-45d"),
])
def test_arrears_channel_follows_the_action_and_priority_the_bucket(
        case: str, dpd: int, channel: str, priority: str, expiry_days: int) -> None:
    now = AT + 4 * DAY + 11  # the expiry counts from the wall clock, not the event time
    args = {**ARREARS_CASE[case], "dpd": dpd}
    decision = must_decide_arrears(engine(), ContactState(), now=now, **args)
    assert decision == Decision(case, channel, priority, now + expiry_days * DAY, "TREATMENT",
                                True, None)


@pytest.mark.parametrize(("dpd", "priority"), [
    pytest.param(0, "LOW", id="0"), pytest.param(1, "LOW", id="1"),
    pytest.param(29, "LOW", id="29"), pytest.param(30, "NORMAL", id="30"),
    pytest.param(59, "NORMAL", id="59"), pytest.param(60, "HIGH", id="60"),
    pytest.param(89, "HIGH", id="89"), pytest.param(90, "URGENT", id="90"),
    pytest.param(400, "URGENT", id="400"),
])
def test_every_days_past_due_bucket_has_its_own_priority(dpd: int, priority: str) -> None:
    config = config_with(arrears={"priority_by_bucket": {
        "1-29": "LOW", "30-59": "NORMAL", "60-89": "HIGH", "90+": "URGENT"}})
    assert must_decide_arrears(engine(config), ContactState(), dpd=dpd).priority == priority


@pytest.mark.parametrize(("changes", "args", "expected"), [
    pytest.param({"collections_min_days_past_due": 60}, {"dpd": 45},
                 ("ARREARS_REMINDER", "SMS"), id="later-collections"),
    pytest.param({"collections_min_days_past_due": 5}, {"dpd": 5},
                 ("COLLECTIONS_HANDOFF", "CALL"), id="earlier-collections"),
    pytest.param({"collections_min_roll_probability": 0.2}, {"dpd": 3, "roll": 0.2},
                 ("COLLECTIONS_HANDOFF", "CALL"), id="lower-roll-threshold"),
    pytest.param({"collections_min_roll_probability": 1.0}, {"dpd": 3, "roll": 0.99},
                 ("ARREARS_REMINDER", "SMS"), id="roll-never-alone"),
    pytest.param({"channel_by_action": {"ARREARS_REMINDER": "PUSH",
                                        "HARDSHIP_ASSESSMENT": "LETTER",
                                        "COLLECTIONS_HANDOFF": "CALL"}},
                 {"dpd": 3}, ("ARREARS_REMINDER", "PUSH"), id="reminder-channel"),
    pytest.param({"hardship_action": "SPECIALIST_CALL",
                  "channel_by_action": {"ARREARS_REMINDER": "SMS", "SPECIALIST_CALL": "LETTER",
                                        "COLLECTIONS_HANDOFF": "CALL"}},
                 {"dpd": 3, "hardship": True}, ("SPECIALIST_CALL", "LETTER"),
                 id="hardship-to-specialists"),
    pytest.param({"reminder_action": "OTHER",
                  "channel_by_action": {"OTHER": "EMAIL", "HARDSHIP_ASSESSMENT": "CALL",
                                        "COLLECTIONS_HANDOFF": "CALL"}},
                 {"dpd": 3}, ("OTHER", "EMAIL"), id="reminder-replaced"),
])
def test_the_arrears_section_of_the_file_changes_arrears_decisions(
        changes: dict[str, Any], args: dict[str, Any], expected: tuple[str, str]) -> None:
    decision = must_decide_arrears(engine(config_with(arrears=changes)), ContactState(), **args)
    assert (decision.action, decision.channel) == expected


@pytest.mark.parametrize("customer", [
    pytest.param(TREATMENT_ID, id="treatment-customer"),
    pytest.param(CONTROL_ID, id="control-customer"),
])
@pytest.mark.parametrize("action", ARREARS_ACTIONS)
@pytest.mark.parametrize("flag", SUPPRESSING_FLAGS)
def test_flags_suppress_arrears_decisions_too(flag: str, action: str, customer: str) -> None:
    state = flagged(flag)
    stored = state.to_bytes()
    decision = decide_arrears(engine(), state, customer=customer, **ARREARS_CASE[action])
    expect_suppressed(decision, state, 0, flag)
    assert decision is not None
    assert decision.action == action  # what was suppressed, for the audit trail
    assert decision.experiment_arm == ("CONTROL" if customer == CONTROL_ID else "TREATMENT")
    assert state.to_bytes() == stored


@pytest.mark.parametrize("action", ARREARS_ACTIONS)
def test_vulnerable_arrears_customers_go_to_the_specialist_team(action: str) -> None:
    state = flagged("vulnerable")
    decision = must_decide_arrears(engine(), state, **{**ARREARS_CASE[action], "dpd": 95})
    # the route's channel and priority replace those of the action and of the 90+ bucket
    assert decision == Decision("SPECIALIST_CALL", "CALL", "HIGH", NOW + 2 * DAY, "TREATMENT",
                                True, "vulnerable")
    assert state.contacts == [(NOW, "SPECIALIST_CALL")]
    # and the specialist call's cooldown (14 days) follows
    again = must_decide_arrears(engine(), state, at=AT + 8 * DAY, **ARREARS_CASE[action])
    expect_suppressed(again, state, 1, "cooldown")


def contacted_arrears(policy: InterventionPolicy, state: ContactState,
                      priors: tuple[tuple[str, int], ...]) -> None:
    """Earlier arrears decisions (action, age before AT in ms), each recorded."""
    for action, age in sorted(priors, key=lambda p: -p[1]):
        d = must_decide_arrears(policy, state, at=AT - age, **ARREARS_CASE[action])
        assert (d.action, d.rule) == (action, None)


@pytest.mark.parametrize(("prior", "age", "action", "rule"), [
    pytest.param("ARREARS_REMINDER", 6 * DAY, "ARREARS_REMINDER", "cooldown",
                 id="reminder-6d-cooldown-before-cap"),
    pytest.param("ARREARS_REMINDER", 7 * DAY - 1, "ARREARS_REMINDER", "cooldown",
                 id="reminder-7d-minus-1ms"),
    pytest.param("ARREARS_REMINDER", 7 * DAY, "ARREARS_REMINDER", None, id="reminder-exactly-7d"),
    pytest.param("COLLECTIONS_HANDOFF", 29 * DAY, "COLLECTIONS_HANDOFF", "cooldown",
                 id="collections-29d"),
    pytest.param("COLLECTIONS_HANDOFF", 30 * DAY, "COLLECTIONS_HANDOFF", None,
                 id="collections-exactly-30d"),
    pytest.param("HARDSHIP_ASSESSMENT", 30 * DAY - 1, "HARDSHIP_ASSESSMENT", "cooldown",
                 id="hardship-30d-minus-1ms"),
    pytest.param("HARDSHIP_ASSESSMENT", 30 * DAY, "HARDSHIP_ASSESSMENT", None,
                 id="hardship-exactly-30d"),
    # another arrears action is held back only by the caps
    pytest.param("ARREARS_REMINDER", 10 * DAY, "COLLECTIONS_HANDOFF", None,
                 id="reminder-then-collections-10d"),
    pytest.param("ARREARS_REMINDER", 3 * DAY, "HARDSHIP_ASSESSMENT", "cap_7d",
                 id="reminder-then-hardship-3d-capped"),
])
def test_arrears_cooldowns(prior: str, age: int, action: str, rule: str | None) -> None:
    policy = engine()
    state = ContactState()
    contacted_arrears(policy, state, ((prior, age),))
    before = list(state.contacts)
    decision = must_decide_arrears(policy, state, **ARREARS_CASE[action])
    assert decision.action == action
    if rule is None:
        assert (decision.actionable, decision.rule) == (True, None)
        assert state.contacts[-1] == (NOW, action)
    else:
        expect_suppressed(decision, state, before, rule)


def test_both_tracks_share_the_contact_caps() -> None:
    policy = engine()
    # a pre-delinquency reminder 2 days ago caps an arrears reminder (1 contact in 7 days)
    state = ContactState()
    contacted(policy, state, (("PAYMENT_REMINDER", 2 * DAY),))
    expect_suppressed(decide_arrears(policy, state), state, 1, "cap_7d")
    # three contacts of both tracks in 30 days cap the fourth, of either track
    state = ContactState()
    contacted(policy, state, (("PAYMENT_DATE_MOVE", 25 * DAY),))
    contacted_arrears(policy, state, (("ARREARS_REMINDER", 16 * DAY),
                                      ("COLLECTIONS_HANDOFF", 8 * DAY)))
    expect_suppressed(decide_arrears(policy, state, hardship=True), state, 3, "cap_30d")
    expect_suppressed(decide(policy, state, code="R_FAILED_DD"), state, 3, "cap_30d")
    # an arrears contact does not put the same pre-delinquency action in cooldown (their
    # actions differ) but counts for the caps
    state = ContactState()
    contacted_arrears(policy, state, (("ARREARS_REMINDER", 8 * DAY),))
    assert must_decide(policy, state, code="R_FAILED_DD").rule is None


def test_control_customers_arrears_decisions_are_recorded_not_actionable() -> None:
    state = ContactState()
    decision = must_decide_arrears(engine(), state, dpd=45, customer=CONTROL_ID)
    assert decision == Decision("COLLECTIONS_HANDOFF", "CALL", "HIGH", NOW + 5 * DAY, "CONTROL",
                                False, None)
    assert state.contacts == [(NOW, "COLLECTIONS_HANDOFF")]


@pytest.mark.parametrize("flags", [
    pytest.param((), id="no-flags"),
    *(pytest.param((name,), id=name) for name in FLAG_FIELDS),
])
def test_every_arrears_decision_is_allowed_by_the_intervention_schema(
        flags: tuple[str, ...]) -> None:
    symbols = schema_symbols()
    policy = engine()
    for customer in (TREATMENT_ID, CONTROL_ID):
        for dpd in (0, 1, 29, 30, 59, 60, 89, 90, 365):
            for roll in (0.0, 0.5, 1.0):
                for hardship in (False, True):
                    d = must_decide_arrears(policy, flagged(*flags), dpd=dpd, roll=roll,
                                            hardship=hardship, customer=customer)
                    assert d.action in symbols["action"]
                    assert d.channel in symbols["channel"]
                    assert d.priority in symbols["priority"]
                    assert d.experiment_arm in symbols["experiment_arm"]


def test_every_arrears_value_a_policy_file_allows_is_in_the_schema() -> None:
    symbols = schema_symbols()
    fields = ArrearsPolicy.model_fields
    actions = set(get_args(fields["hardship_action"].annotation))
    channels = set(get_args(get_args(fields["channel_by_action"].annotation)[1]))
    priorities = set(get_args(get_args(fields["priority_by_bucket"].annotation)[1]))
    assert set(ARREARS_ACTIONS) <= actions
    assert actions <= symbols["action"]
    assert channels <= symbols["channel"]
    assert priorities <= symbols["priority"]
    # the arrears actions are new in revision 3: the previous revision's readers see OTHER
    previous = json.loads((REPO / "schemas" / "intervention.v1.rev2.avsc").read_text())
    action_enum = next(f["type"] for f in previous["fields"] if f["name"] == "action")
    assert not set(ARREARS_ACTIONS) & set(action_enum["symbols"])
    assert action_enum["default"] == "OTHER"

"""ThresholdPolicy: act at or above the threshold; action by top reason, channel by band."""

from __future__ import annotations

import itertools

import pytest

from stream_app.events import BANDS, Reason
from stream_app.features import FEATURES
from stream_app.policy import ACTION_BY_REASON, ThresholdPolicy

NOW = 1_767_225_600_000
DAY_MS = 86_400_000


def reason(code: str, contribution: float = 0.5) -> Reason:
    spec = next(f for f in FEATURES if f.reason_code == code)
    return Reason(code, spec.name, 1.0, contribution, spec.reason_text)


POLICY = ThresholdPolicy(enabled=True, threshold=70)


@pytest.mark.parametrize(("code", "action"), [
    ("R_SALARY_DELAY", "PAYMENT_DATE_MOVE"),
    ("R_SALARY_MISSED", "PAYMENT_DATE_MOVE"),
    ("R_INCOME_DROP", "PAYMENT_DATE_MOVE"),
    ("R_FAILED_DD", "PAYMENT_REMINDER"),
    ("R_DUE_SOON_SHORTFALL", "PAYMENT_REMINDER"),
    ("R_HIGH_UTILISATION", "INSTALMENT_PLAN"),
    ("R_UTILISATION_RISING", "INSTALMENT_PLAN"),
    ("R_MIN_PAYMENTS", "INSTALMENT_PLAN"),
    ("R_MULTIPLE_ARREARS", "SPECIALIST_CALL"),
    ("R_PAST_DUE", "SPECIALIST_CALL"),
    ("R_GAMBLING_RISE", "BUDGETING_SUPPORT"),
    ("R_SHORT_HISTORY", "BUDGETING_SUPPORT"),
])
def test_action_follows_the_top_reason(code: str, action: str) -> None:
    other = "R_HIGH_UTILISATION" if code != "R_HIGH_UTILISATION" else "R_FAILED_DD"
    decision = POLICY.decide(75, "HIGH", (reason(code, 0.9), reason(other, 0.3)), NOW)
    assert decision is not None
    assert decision.action == action


def test_without_reasons_the_action_is_budgeting_support() -> None:
    decision = POLICY.decide(90, "CRITICAL", (), NOW)
    assert decision is not None
    assert decision.action == "BUDGETING_SUPPORT"


@pytest.mark.parametrize(("band", "channel", "priority"), [
    ("CRITICAL", "CALL", "URGENT"),
    ("HIGH", "SMS", "HIGH"),
    ("MEDIUM", "EMAIL", "NORMAL"),
    ("LOW", "EMAIL", "LOW"),
])
def test_channel_and_priority_follow_the_band(band: str, channel: str, priority: str) -> None:
    policy = ThresholdPolicy(enabled=True, threshold=0)
    decision = policy.decide(50, band, (reason("R_FAILED_DD"),), NOW)
    assert decision is not None
    assert (decision.channel, decision.priority) == (channel, priority)


def test_specialist_calls_are_always_calls() -> None:
    for band in BANDS:
        decision = ThresholdPolicy(enabled=True, threshold=0).decide(
            50, band, (reason("R_PAST_DUE"),), NOW)
        assert decision is not None
        assert decision.action == "SPECIALIST_CALL"
        assert decision.channel == "CALL"


def test_threshold_is_inclusive_and_below_it_nothing_happens() -> None:
    reasons = (reason("R_FAILED_DD"),)
    assert POLICY.decide(70, "HIGH", reasons, NOW) is not None
    assert POLICY.decide(69, "HIGH", reasons, NOW) is None
    assert POLICY.decide(0, "LOW", reasons, NOW) is None


def test_disabled_policy_never_acts() -> None:
    disabled = ThresholdPolicy(enabled=False, threshold=0)
    for score in (0, 50, 100):
        assert disabled.decide(score, "CRITICAL", (reason("R_PAST_DUE"),), NOW) is None


def test_decision_expires_after_the_expiry_days() -> None:
    decision = POLICY.decide(80, "CRITICAL", (reason("R_FAILED_DD"),), NOW)
    assert decision is not None
    assert decision.expires_at == NOW + 7 * DAY_MS
    short = ThresholdPolicy(enabled=True, threshold=70, expiry_days=2)
    decision = short.decide(80, "CRITICAL", (reason("R_FAILED_DD"),), NOW + 5)
    assert decision is not None
    assert decision.expires_at == NOW + 5 + 2 * DAY_MS


def test_every_mapped_reason_maps_to_a_known_action() -> None:
    assert set(ACTION_BY_REASON.values()) <= {
        "PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN", "SPECIALIST_CALL"}


def test_decisions_use_only_symbols_of_the_intervention_contract() -> None:
    from stream_app.events import RecordType
    from stream_app.serializers import SchemaCatalog

    schema = SchemaCatalog.default().latest(RecordType.INTERVENTION).definition
    symbols = {f["name"]: set(f["type"]["symbols"]) for f in schema["fields"]
               if isinstance(f["type"], dict) and f["type"].get("type") == "enum"}
    policy = ThresholdPolicy(enabled=True, threshold=0)
    for code, band in itertools.product([*ACTION_BY_REASON, "R_GAMBLING_RISE"], BANDS):
        decision = policy.decide(50, band, (reason(code),), NOW)
        assert decision is not None
        assert decision.action in symbols["action"]
        assert decision.channel in symbols["channel"]
        assert decision.priority in symbols["priority"]

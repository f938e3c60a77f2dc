"""The policy file: the built-in default, refused files (named problems), custom files.

Invalid files are written to ``tmp_path`` as a copy of the default with one change, so each
row shows exactly which problem is refused and how the message names it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from stream_app.events import Reason
from stream_app.policy import (
    DEFAULT_POLICY_PATH,
    ContactState,
    Decision,
    InterventionPolicy,
    PolicyFileError,
    load_policy,
)
from stream_app.policy._config import ArrearsPolicy
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs

DAY = 86_400_000
AT = 1_767_225_600_000
NOW = AT + 60_000
DELETE = object()


def default_dict() -> dict[str, Any]:
    return json.loads(DEFAULT_POLICY_PATH.read_text())


def changed(path: str, value: Any) -> dict[str, Any]:
    """The default policy with the dotted ``path`` set to ``value`` (or deleted)."""
    data = copy.deepcopy(default_dict())
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


def write(tmp_path: Path, content: dict[str, Any] | str | bytes) -> Path:
    file = tmp_path / "policy.json"
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content if isinstance(content, str) else json.dumps(content))
    return file


def hash_point(customer_id: str, experiment_id: str) -> float:
    digest = hashlib.blake2b(f"{experiment_id}|{customer_id}".encode(), digest_size=8)
    return int(digest.hexdigest(), 16) / 2**64


def customer_between(low: float, high: float, experiment_id: str = "uplift-2026") -> str:
    return next(f"cust-{i:05d}" for i in range(100_000)
                if low <= hash_point(f"cust-{i:05d}", experiment_id) < high)


TREATMENT_ID = customer_between(0.5, 1.0)
CONTROL_ID = customer_between(0.0, 0.1)
MIDDLE_ID = customer_between(0.1, 0.5)  # TREATMENT at 10%, CONTROL at 50%


# --- the built-in default --------------------------------------------------------------------

def test_the_default_policy_loads_with_the_documented_values() -> None:
    config = load_policy()
    assert config.version == "contact-policy-2026-12"
    assert (config.bands.medium, config.bands.high, config.bands.critical) == (30, 60, 80)
    assert config.band_cutoffs == BandCutoffs(30, 60, 80) == DEFAULT_BANDS
    assert config.default_action == "BUDGETING_SUPPORT"
    assert config.channel_by_band == {"LOW": "EMAIL", "MEDIUM": "EMAIL", "HIGH": "SMS",
                                      "CRITICAL": "CALL"}
    assert config.channel_by_action == {"SPECIALIST_CALL": "CALL"}
    assert config.priority_by_band == {"LOW": "LOW", "MEDIUM": "NORMAL", "HIGH": "HIGH",
                                       "CRITICAL": "URGENT"}
    assert config.expiry_days == {"PAYMENT_REMINDER": 3, "SPECIALIST_CALL": 2,
                                  "ARREARS_REMINDER": 3, "HARDSHIP_ASSESSMENT": 5,
                                  "COLLECTIONS_HANDOFF": 5}
    assert config.default_expiry_days == 7
    assert config.cooldown_days == {"PAYMENT_DATE_MOVE": 30, "PAYMENT_REMINDER": 7,
                                    "INSTALMENT_PLAN": 30, "SPECIALIST_CALL": 14,
                                    "BUDGETING_SUPPORT": 30, "ARREARS_REMINDER": 7,
                                    "HARDSHIP_ASSESSMENT": 30, "COLLECTIONS_HANDOFF": 30}
    assert [(c.days, c.max_contacts) for c in config.contact_caps] == [(7, 1), (30, 3)]
    assert (config.experiment.id, config.experiment.control_fraction) == ("uplift-2026", 0.1)
    assert (config.vulnerable.action, config.vulnerable.channel, config.vulnerable.priority) == (
        "SPECIALIST_CALL", "CALL", "HIGH")
    assert config.memory_days == 30
    arrears = config.arrears
    assert (arrears.hardship_action, arrears.collections_action, arrears.reminder_action) == (
        "HARDSHIP_ASSESSMENT", "COLLECTIONS_HANDOFF", "ARREARS_REMINDER")
    assert arrears.collections_min_days_past_due == 30
    assert arrears.collections_min_roll_probability == 0.5
    assert arrears.channel_by_action == {"ARREARS_REMINDER": "SMS", "HARDSHIP_ASSESSMENT": "CALL",
                                         "COLLECTIONS_HANDOFF": "CALL"}
    assert arrears.priority_by_bucket == {"1-29": "NORMAL", "30-59": "HIGH", "60-89": "URGENT",
                                          "90+": "URGENT"}


def test_the_arrears_section_defaults_to_the_documented_values(tmp_path: Path) -> None:
    # a policy file written before the arrears track has no arrears section
    config = load_policy(write(tmp_path, changed("arrears", DELETE)))
    assert config.arrears == ArrearsPolicy() == load_policy().arrears
    # a partial section keeps the defaults of the other keys
    partial = load_policy(write(tmp_path, changed(
        "arrears", {"collections_min_days_past_due": 45})))
    assert partial.arrears.collections_min_days_past_due == 45
    assert partial.arrears.collections_min_roll_probability == 0.5
    assert partial.arrears.reminder_action == "ARREARS_REMINDER"
    assert partial.arrears.channel_by_action == ArrearsPolicy().channel_by_action


@pytest.mark.parametrize("action", ["ARREARS_REMINDER", "HARDSHIP_ASSESSMENT",
                                    "COLLECTIONS_HANDOFF"])
@pytest.mark.parametrize("path", ["actions_by_reason.R_FAILED_DD", "default_action"])
def test_arrears_actions_are_refused_as_pre_delinquency_actions(tmp_path: Path, path: str,
                                                                 action: str) -> None:
    file = write(tmp_path, changed(path, action))
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    assert f"{action} belong to the arrears track" in str(caught.value)


def test_every_arrears_action_given_to_pre_delinquency_is_named(tmp_path: Path) -> None:
    data = changed("default_action", "COLLECTIONS_HANDOFF")
    data["actions_by_reason"]["R_FAILED_DD"] = "ARREARS_REMINDER"
    data["actions_by_reason"]["R_SALARY_DELAY"] = "ARREARS_REMINDER"
    with pytest.raises(PolicyFileError) as caught:
        load_policy(write(tmp_path, data))
    assert "ARREARS_REMINDER, COLLECTIONS_HANDOFF belong to the arrears track" in str(
        caught.value)


@pytest.mark.parametrize(("path", "value"), [
    pytest.param("actions_by_reason.R_FAILED_DD", "SPECIALIST_CALL", id="specialist-by-reason"),
    pytest.param("default_action", "OTHER", id="other-by-default"),
    # the vulnerable route and the arrears section may use the actions of either track
    pytest.param("vulnerable.action", "HARDSHIP_ASSESSMENT", id="vulnerable-to-hardship"),
    pytest.param("cooldown_days.COLLECTIONS_HANDOFF", 60, id="arrears-cooldown"),
    pytest.param("expiry_days.ARREARS_REMINDER", 1, id="arrears-expiry"),
])
def test_actions_allowed_on_both_tracks(tmp_path: Path, path: str, value: Any) -> None:
    load_policy(write(tmp_path, changed(path, value)))


@pytest.mark.parametrize("path", [
    pytest.param(None, id="none"),
    pytest.param(DEFAULT_POLICY_PATH, id="path"),
    pytest.param(str(DEFAULT_POLICY_PATH), id="str"),
])
def test_every_way_of_naming_the_default_gives_the_same_policy(path: Path | str | None) -> None:
    assert load_policy(path) == load_policy(None)
    assert DEFAULT_POLICY_PATH.name == "default_policy.json"


@pytest.mark.parametrize(("score", "band"), [
    pytest.param(0, "LOW", id="0"),
    pytest.param(29, "LOW", id="29"),
    pytest.param(30, "MEDIUM", id="30"),
    pytest.param(59, "MEDIUM", id="59"),
    pytest.param(60, "HIGH", id="60"),
    pytest.param(79, "HIGH", id="79"),
    pytest.param(80, "CRITICAL", id="80"),
    pytest.param(100, "CRITICAL", id="100"),
])
def test_default_bands(score: int, band: str) -> None:
    policy = InterventionPolicy(load_policy(), enabled=True, threshold=80)
    assert policy.bands.band(score) == band


@pytest.mark.parametrize(("changes", "memory_days"), [
    pytest.param({}, 30, id="default-30"),
    pytest.param({"cooldown_days": {"PAYMENT_REMINDER": 45}}, 45, id="longest-cooldown"),
    pytest.param({"contact_caps": [{"days": 60, "max_contacts": 5}]}, 60, id="longest-cap"),
    pytest.param({"cooldown_days": {}, "contact_caps": []}, 1, id="nothing-to-remember"),
])
def test_memory_covers_the_longest_window(tmp_path: Path, changes: dict[str, Any],
                                          memory_days: int) -> None:
    assert load_policy(write(tmp_path, {**default_dict(), **changes})).memory_days == memory_days


# --- refused files ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value", "problem"), [
    pytest.param("colour", "blue", "colour: Extra inputs are not permitted",
                 id="unknown-top-level-key"),
    pytest.param("bands.highest", 90, "bands.highest: Extra inputs are not permitted",
                 id="unknown-key-in-bands"),
    pytest.param("experiment.seed", 7, "experiment.seed: Extra inputs",
                 id="unknown-key-in-experiment"),
    pytest.param("vulnerable.team", "x", "vulnerable.team: Extra inputs",
                 id="unknown-key-in-vulnerable"),
    pytest.param("contact_caps", [{"days": 7, "max_contacts": 1, "per": "customer"}],
                 "contact_caps.0.per: Extra inputs", id="unknown-key-in-cap"),
    pytest.param("bands", {"medium": 60, "high": 30, "critical": 80},
                 "bands: Value error, band cut-offs must satisfy medium < high < critical",
                 id="cutoffs-medium-above-high"),
    pytest.param("bands", {"medium": 30, "high": 90, "critical": 80},
                 "medium < high < critical", id="cutoffs-high-above-critical"),
    pytest.param("bands", {"medium": 30, "high": 30, "critical": 80},
                 "medium < high < critical", id="cutoffs-equal"),
    pytest.param("bands.critical", 101, "bands.critical: Input should be less than or equal "
                 "to 100", id="cutoff-above-100"),
    pytest.param("bands.medium", 0, "bands.medium: Input should be greater than or equal to 1",
                 id="cutoff-zero"),
    pytest.param("bands.medium", "thirty", "bands.medium: Input should be a valid integer",
                 id="cutoff-not-a-number"),
    pytest.param("bands.high", DELETE, "bands.high: Field required", id="cutoff-missing"),
    pytest.param("actions_by_reason.R_FAILED_DD", "SEND_FLOWERS",
                 "actions_by_reason.R_FAILED_DD: Input should be 'PAYMENT_DATE_MOVE'",
                 id="unknown-action-for-a-reason"),
    pytest.param("default_action", "SEND_FLOWERS", "default_action: Input should be",
                 id="unknown-default-action"),
    pytest.param("vulnerable.action", "SEND_FLOWERS", "vulnerable.action: Input should be",
                 id="unknown-vulnerable-action"),
    pytest.param("expiry_days.SEND_FLOWERS", 3, "expiry_days.SEND_FLOWERS",
                 id="expiry-of-an-unknown-action"),
    pytest.param("cooldown_days.SEND_FLOWERS", 3, "cooldown_days.SEND_FLOWERS",
                 id="cooldown-of-an-unknown-action"),
    pytest.param("channel_by_band.HIGH", "PIGEON", "channel_by_band.HIGH: Input should be 'SMS'",
                 id="unknown-channel-for-a-band"),
    pytest.param("channel_by_action.SPECIALIST_CALL", "FAX",
                 "channel_by_action.SPECIALIST_CALL: Input should be",
                 id="unknown-channel-for-an-action"),
    pytest.param("channel_by_action.SEND_FLOWERS", "SMS", "channel_by_action.SEND_FLOWERS",
                 id="channel-for-an-unknown-action"),
    pytest.param("vulnerable.channel", "FAX", "vulnerable.channel: Input should be",
                 id="unknown-vulnerable-channel"),
    pytest.param("priority_by_band.LOW", "WHENEVER", "priority_by_band.LOW: Input should be",
                 id="unknown-priority"),
    pytest.param("channel_by_band.SEVERE", "SMS", "channel_by_band.SEVERE", id="unknown-band"),
    pytest.param("channel_by_band.CRITICAL", DELETE, "channel_by_band lacks CRITICAL",
                 id="channel-band-missing"),
    pytest.param("channel_by_band", {"LOW": "EMAIL"}, "channel_by_band lacks MEDIUM, HIGH, "
                 "CRITICAL", id="channel-bands-missing"),
    pytest.param("priority_by_band.LOW", DELETE, "priority_by_band lacks LOW",
                 id="priority-band-missing"),
    pytest.param("experiment.control_fraction", 0.51, "experiment.control_fraction: Input "
                 "should be less than or equal to 0.5", id="control-fraction-above-half"),
    pytest.param("experiment.control_fraction", 1.0, "experiment.control_fraction",
                 id="control-fraction-one"),
    pytest.param("experiment.control_fraction", -0.01, "experiment.control_fraction: Input "
                 "should be greater than or equal to 0", id="control-fraction-negative"),
    pytest.param("experiment.id", "", "experiment.id: String should have at least 1 character",
                 id="empty-experiment-id"),
    pytest.param("cooldown_days.PAYMENT_REMINDER", -1,
                 "cooldown_days must be between 0 and 365 days", id="negative-cooldown"),
    pytest.param("cooldown_days.PAYMENT_REMINDER", 366,
                 "cooldown_days must be between 0 and 365 days", id="cooldown-over-a-year"),
    pytest.param("expiry_days.SPECIALIST_CALL", -2, "expiry_days must be between 0 and 365 days",
                 id="negative-expiry"),
    pytest.param("default_expiry_days", 0, "default_expiry_days: Input should be greater than "
                 "or equal to 1", id="default-expiry-zero"),
    pytest.param("contact_caps", [{"days": 0, "max_contacts": 1}], "contact_caps.0.days",
                 id="cap-zero-days"),
    pytest.param("contact_caps", [{"days": 7, "max_contacts": 0}], "contact_caps.0.max_contacts",
                 id="cap-zero-contacts"),
    pytest.param("contact_caps", [{"days": 7}], "contact_caps.0.max_contacts: Field required",
                 id="cap-without-max"),
    # only the 32 newest contacts are remembered: a larger cap could never be reached
    pytest.param("contact_caps", [{"days": 30, "max_contacts": 33}],
                 "contact_caps.0.max_contacts: Input should be less than or equal to 32",
                 id="cap-above-remembered-contacts"),
    pytest.param("experiment", DELETE, "experiment: Field required", id="missing-experiment"),
    pytest.param("version", "", "version: String should have at least 1 character",
                 id="empty-version"),
    pytest.param("version", DELETE, "version: Field required", id="missing-version"),
    # the arrears section
    pytest.param("arrears.colour", "blue", "arrears.colour: Extra inputs are not permitted",
                 id="unknown-key-in-arrears"),
    pytest.param("arrears.reminder_action", "PAYMENT_REMINDER",
                 "arrears.reminder_action: Input should be 'ARREARS_REMINDER'",
                 id="pre-delinquency-action-as-arrears-action"),
    pytest.param("arrears.collections_action", "SEND_FLOWERS",
                 "arrears.collections_action: Input should be", id="unknown-arrears-action"),
    pytest.param("arrears.channel_by_action.HARDSHIP_ASSESSMENT", DELETE,
                 "arrears: Value error, channel_by_action lacks HARDSHIP_ASSESSMENT",
                 id="arrears-action-without-channel"),
    pytest.param("arrears.hardship_action", "SPECIALIST_CALL",
                 "channel_by_action lacks SPECIALIST_CALL", id="other-action-without-channel"),
    pytest.param("arrears.channel_by_action.ARREARS_REMINDER", "PIGEON",
                 "arrears.channel_by_action.ARREARS_REMINDER: Input should be 'SMS'",
                 id="unknown-arrears-channel"),
    pytest.param("arrears.priority_by_bucket.90+", DELETE, "priority_by_bucket lacks 90+",
                 id="bucket-missing"),
    pytest.param("arrears.priority_by_bucket", {"1-29": "LOW"},
                 "priority_by_bucket lacks 30-59, 60-89, 90+", id="buckets-missing"),
    pytest.param("arrears.priority_by_bucket.120+", "URGENT", "arrears.priority_by_bucket.120+",
                 id="unknown-bucket"),
    pytest.param("arrears.priority_by_bucket.1-29", "WHENEVER",
                 "arrears.priority_by_bucket.1-29: Input should be", id="unknown-arrears-priority"),
    pytest.param("arrears.collections_min_days_past_due", 0,
                 "arrears.collections_min_days_past_due: Input should be greater than or equal "
                 "to 1", id="collections-at-0-days"),
    pytest.param("arrears.collections_min_days_past_due", 3651,
                 "arrears.collections_min_days_past_due: Input should be less than or equal to "
                 "3650", id="collections-after-ten-years"),
    pytest.param("arrears.collections_min_roll_probability", 1.01,
                 "arrears.collections_min_roll_probability: Input should be less than or equal "
                 "to 1", id="roll-above-1"),
    pytest.param("arrears.collections_min_roll_probability", -0.1,
                 "arrears.collections_min_roll_probability: Input should be greater than or "
                 "equal to 0", id="roll-negative"),
])
def test_invalid_files_are_refused_naming_the_problem(tmp_path: Path, path: str, value: Any,
                                                      problem: str) -> None:
    file = write(tmp_path, changed(path, value))
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    message = str(caught.value)
    assert message.startswith(f"invalid policy file {file}: ")
    assert problem in message


def test_every_problem_is_listed(tmp_path: Path) -> None:
    data = changed("colour", "blue")
    data["experiment"]["control_fraction"] = 0.9
    data["bands"] = {"medium": 60, "high": 30, "critical": 80}
    data["channel_by_band"]["HIGH"] = "PIGEON"
    with pytest.raises(PolicyFileError) as caught:
        load_policy(write(tmp_path, data))
    message = str(caught.value)
    for problem in ("colour: Extra inputs are not permitted", "experiment.control_fraction",
                    "medium < high < critical", "channel_by_band.HIGH"):
        assert problem in message


@pytest.mark.parametrize(("content", "problem"), [
    pytest.param("{bad", "(file): Invalid JSON", id="invalid-json"),
    pytest.param('{"version": "x",}', "(file): Invalid JSON", id="trailing-comma"),
    pytest.param("", "(file): Invalid JSON", id="empty-file"),
    pytest.param("[]", "(file): Input should be an object", id="json-array"),
    pytest.param("null", "(file): Input should be an object", id="json-null"),
    pytest.param(b"\xff\xfe{}", "(file): Invalid JSON", id="not-utf8"),
    pytest.param(b'{"version": "caf\xe9"}', "(file): Invalid JSON", id="latin1-string"),
])
def test_unreadable_json_is_refused(tmp_path: Path, content: str | bytes, problem: str) -> None:
    file = write(tmp_path, content)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    assert str(caught.value).startswith(f"invalid policy file {file}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(("name", "problem"), [
    pytest.param("missing.json", "No such file or directory", id="missing-file"),
    pytest.param(".", "Is a directory", id="directory"),
])
def test_unreadable_files_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    file = tmp_path / name
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    message = str(caught.value)
    assert message.startswith(f"cannot read the policy file {file}")
    assert problem in message


def test_policy_file_error_is_a_value_error() -> None:
    assert issubclass(PolicyFileError, ValueError)


# --- a custom file changes decisions ---------------------------------------------------------

# What a decision looks like: (action, channel, priority, expiry days, arm, actionable, rule).
Outcome = tuple[str, str, str, int, str, bool, "str | None"]
REMINDER_HIGH: Outcome = ("PAYMENT_REMINDER", "SMS", "HIGH", 3, "TREATMENT", True, None)


def reminder_suppressed(rule: str) -> Outcome:
    return ("PAYMENT_REMINDER", "SMS", "HIGH", 3, "TREATMENT", False, rule)


def run(policy: InterventionPolicy, *, customer: str, code: str | None, band: str,
        priors: tuple[tuple[str, int], ...]) -> Outcome:
    """Earlier decisions (top reason, days before AT), then the decision at AT."""
    state = ContactState()
    for prior_code, days in priors:
        prior = policy.decide(customer_id=customer, score=90, band="HIGH",
                              reasons=reasons(prior_code), now_ms=NOW - days * DAY,
                              contact=state)
        assert prior is not None
        assert prior.rule is None
    d = policy.decide(customer_id=customer, score=90, band=band,  # type: ignore[arg-type]
                      reasons=reasons(code), now_ms=NOW, contact=state)
    assert isinstance(d, Decision)
    assert (d.expires_at - NOW) % DAY == 0
    return (d.action, d.channel, d.priority, (d.expires_at - NOW) // DAY, d.experiment_arm,
            d.actionable, d.rule)


def reasons(code: str | None) -> tuple[Reason, ...]:
    return () if code is None else (Reason(code, "feature", 1.0, 0.5, "text"),)


@pytest.mark.parametrize(("changes", "scenario", "by_default", "by_file"), [
    pytest.param({"cooldown_days": {"PAYMENT_REMINDER": 1}, "contact_caps": []},
                 ("R_FAILED_DD", "HIGH", (("R_FAILED_DD", 2),)),
                 reminder_suppressed("cooldown"), REMINDER_HIGH,
                 id="shorter-cooldown"),
    pytest.param({"cooldown_days": {"PAYMENT_REMINDER": 20}},
                 ("R_FAILED_DD", "HIGH", (("R_FAILED_DD", 10),)),
                 REMINDER_HIGH, reminder_suppressed("cooldown"),
                 id="longer-cooldown"),
    pytest.param({"contact_caps": []},
                 ("R_FAILED_DD", "HIGH", (("R_SALARY_DELAY", 1),)),
                 reminder_suppressed("cap_7d"), REMINDER_HIGH, id="no-caps"),
    pytest.param({"contact_caps": [{"days": 2, "max_contacts": 1}]},
                 ("R_FAILED_DD", "HIGH", (("R_SALARY_DELAY", 1),)),
                 reminder_suppressed("cap_7d"), reminder_suppressed("cap_2d"),
                 id="cap-named-after-its-days"),
    pytest.param({"contact_caps": [{"days": 2, "max_contacts": 1}]},
                 ("R_FAILED_DD", "HIGH", (("R_SALARY_DELAY", 3),)),
                 reminder_suppressed("cap_7d"), REMINDER_HIGH, id="shorter-cap-window"),
    pytest.param({"actions_by_reason": {"R_GAMBLING_RISE": "INSTALMENT_PLAN"}},
                 ("R_GAMBLING_RISE", "HIGH", ()),
                 ("BUDGETING_SUPPORT", "SMS", "HIGH", 7, "TREATMENT", True, None),
                 ("INSTALMENT_PLAN", "SMS", "HIGH", 7, "TREATMENT", True, None),
                 id="reason-mapping-replaced"),
    pytest.param({"default_action": "OTHER"}, (None, "MEDIUM", ()),
                 ("BUDGETING_SUPPORT", "EMAIL", "NORMAL", 7, "TREATMENT", True, None),
                 ("OTHER", "EMAIL", "NORMAL", 7, "TREATMENT", True, None),
                 id="default-action"),
    pytest.param({"channel_by_action": {"PAYMENT_REMINDER": "PUSH"}},
                 ("R_FAILED_DD", "HIGH", ()), REMINDER_HIGH,
                 ("PAYMENT_REMINDER", "PUSH", "HIGH", 3, "TREATMENT", True, None),
                 id="channel-by-action"),
    pytest.param({"channel_by_band": {"LOW": "EMAIL", "MEDIUM": "EMAIL", "HIGH": "LETTER",
                                      "CRITICAL": "CALL"}},
                 ("R_FAILED_DD", "HIGH", ()), REMINDER_HIGH,
                 ("PAYMENT_REMINDER", "LETTER", "HIGH", 3, "TREATMENT", True, None),
                 id="channel-by-band"),
    pytest.param({"priority_by_band": {"LOW": "LOW", "MEDIUM": "LOW", "HIGH": "NORMAL",
                                       "CRITICAL": "HIGH"}},
                 ("R_FAILED_DD", "HIGH", ()), REMINDER_HIGH,
                 ("PAYMENT_REMINDER", "SMS", "NORMAL", 3, "TREATMENT", True, None),
                 id="priority-by-band"),
    pytest.param({"expiry_days": {"PAYMENT_REMINDER": 10}},
                 ("R_FAILED_DD", "HIGH", ()), REMINDER_HIGH,
                 ("PAYMENT_REMINDER", "SMS", "HIGH", 10, "TREATMENT", True, None),
                 id="expiry-by-action"),
    pytest.param({"default_expiry_days": 1}, ("R_SALARY_DELAY", "HIGH", ()),
                 ("PAYMENT_DATE_MOVE", "SMS", "HIGH", 7, "TREATMENT", True, None),
                 ("PAYMENT_DATE_MOVE", "SMS", "HIGH", 1, "TREATMENT", True, None),
                 id="default-expiry"),
])
def test_a_custom_file_changes_decisions(
        tmp_path: Path, changes: dict[str, Any],
        scenario: tuple[str | None, str, tuple[tuple[str, int], ...]],
        by_default: Outcome, by_file: Outcome) -> None:
    code, band, priors = scenario
    custom = load_policy(write(tmp_path, {**default_dict(), **changes}))
    for config, expected in ((load_policy(), by_default), (custom, by_file)):
        policy = InterventionPolicy(config, enabled=True, threshold=0)
        assert run(policy, customer=TREATMENT_ID, code=code, band=band,
                   priors=priors) == expected


@pytest.mark.parametrize(("customer", "fraction", "arm"), [
    pytest.param(CONTROL_ID, 0.0, "TREATMENT", id="fraction-0-control-customer-treated"),
    pytest.param(CONTROL_ID, 0.1, "CONTROL", id="fraction-10pct-control-customer"),
    pytest.param(MIDDLE_ID, 0.1, "TREATMENT", id="fraction-10pct-middle-customer"),
    pytest.param(MIDDLE_ID, 0.5, "CONTROL", id="fraction-50pct-middle-customer"),
    pytest.param(TREATMENT_ID, 0.5, "TREATMENT", id="fraction-50pct-treatment-customer"),
])
def test_the_control_fraction_comes_from_the_file(tmp_path: Path, customer: str,
                                                  fraction: float, arm: str) -> None:
    data = changed("experiment.control_fraction", fraction)
    policy = InterventionPolicy(load_policy(write(tmp_path, data)), enabled=True, threshold=0)
    outcome = run(policy, customer=customer, code="R_FAILED_DD", band="HIGH", priors=())
    assert outcome[4:6] == (arm, arm == "TREATMENT")


def test_the_experiment_id_comes_from_the_file(tmp_path: Path) -> None:
    customer = CONTROL_ID  # CONTROL in uplift-2026 at 10%
    other = next(f"exp-{i}" for i in range(1000) if hash_point(customer, f"exp-{i}") >= 0.1)
    policy = InterventionPolicy(load_policy(write(tmp_path, changed("experiment.id", other))),
                                enabled=True, threshold=0)
    assert run(policy, customer=customer, code="R_FAILED_DD", band="HIGH",
               priors=())[4] == "TREATMENT"


@pytest.mark.parametrize(("score", "by_default", "by_file"), [
    pytest.param(19, "LOW", "LOW", id="19"),
    pytest.param(20, "LOW", "MEDIUM", id="20"),
    pytest.param(30, "MEDIUM", "MEDIUM", id="30"),
    pytest.param(50, "MEDIUM", "HIGH", id="50"),
    pytest.param(60, "HIGH", "HIGH", id="60"),
    pytest.param(85, "CRITICAL", "HIGH", id="85"),
    pytest.param(90, "CRITICAL", "CRITICAL", id="90"),
])
def test_custom_cutoffs_change_bands_and_decisions(tmp_path: Path, score: int, by_default: str,
                                                   by_file: str) -> None:
    data = changed("bands", {"medium": 20, "high": 50, "critical": 90})
    custom = load_policy(write(tmp_path, data))
    assert custom.band_cutoffs == BandCutoffs(20, 50, 90)
    channel = {"LOW": "EMAIL", "MEDIUM": "EMAIL", "HIGH": "SMS", "CRITICAL": "CALL"}
    priority = {"LOW": "LOW", "MEDIUM": "NORMAL", "HIGH": "HIGH", "CRITICAL": "URGENT"}
    for config, band in ((load_policy(), by_default), (custom, by_file)):
        policy = InterventionPolicy(config, enabled=True, threshold=0)
        assert policy.bands.band(score) == band
        outcome = run(policy, customer=TREATMENT_ID, code="R_FAILED_DD",
                      band=policy.bands.band(score), priors=())
        assert outcome[1:3] == (channel[band], priority[band])


def test_a_cap_of_32_contacts_is_enforced(tmp_path: Path) -> None:
    # the largest cap a file may set: 32 contacts (the remembered history) within 30 days
    data = {**default_dict(), "cooldown_days": {},
            "contact_caps": [{"days": 30, "max_contacts": 32}],
            "experiment": {"id": "uplift-2026", "control_fraction": 0.0}}
    policy = InterventionPolicy(load_policy(write(tmp_path, data)), enabled=True, threshold=0)
    state = ContactState()
    rules = [policy.decide(customer_id=TREATMENT_ID, score=90, band="HIGH", reasons=(),
                           now_ms=NOW + i * 3_600_000, contact=state).rule  # type: ignore[union-attr]
             for i in range(40)]
    assert rules == [None] * 32 + ["cap_30d"] * 8


def test_the_version_comes_from_the_file(tmp_path: Path) -> None:
    config = load_policy(write(tmp_path, changed("version", "contact-policy-test-7")))
    policy = InterventionPolicy(config, enabled=True, threshold=80)
    assert policy.version == "contact-policy-test-7"

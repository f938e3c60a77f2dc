"""ContactState: newest-wins care flags, the flag bits, the stored format, the contact history.

The stored format (little-endian ``version u8, flags u8, flags_at i64, count u8`` then per
contact ``at i64, action code u8``) lives in a changelogged table, so the expected bytes are
written out here by hand: changing them silently would make stored state unreadable.
"""

from __future__ import annotations

import pytest

from stream_app.events import CustomerFlags
from stream_app.policy import (
    FLAG_BANKRUPTCY,
    FLAG_DECEASED,
    FLAG_HARDSHIP_PLAN,
    FLAG_OPT_OUT,
    FLAG_VULNERABLE,
    ContactState,
    ContactStateError,
)
from stream_app.policy._contact import ACTION_CODES

DAY = 86_400_000
T0 = 1_767_225_600_000
# stored as codes 0..8, in this order: the arrears actions were appended as 6..8
ACTIONS = ("PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN", "SPECIALIST_CALL",
           "BUDGETING_SUPPORT", "OTHER", "ARREARS_REMINDER", "HARDSHIP_ASSESSMENT",
           "COLLECTIONS_HANDOFF")
FIELD_BITS = {"opt_out_contact": 1, "vulnerable": 2, "hardship_plan": 4, "deceased": 8,
              "bankruptcy": 16}


def flags_event(at: int, *fields: str) -> CustomerFlags:
    return CustomerFlags(event_id=f"f-{at}", customer_id="c-1", occurred_at=at,
                         **dict.fromkeys(fields, True))


def le(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little", signed=True)


def state_of(flags: int = 0, flags_at: int = 0,
             contacts: list[tuple[int, str]] | None = None) -> ContactState:
    state = ContactState()
    state.flags, state.flags_at, state.contacts = flags, flags_at, list(contacts or [])
    return state


# --- flags -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("events", "flags", "flags_at", "changed"), [
    pytest.param([(100, ("opt_out_contact",))], 1, 100, [True], id="first-event"),
    pytest.param([(100, ("opt_out_contact",)), (200, ("vulnerable",))], 2, 200, [True, True],
                 id="newer-replaces-not-merges"),
    # a protection takes effect whatever its event time: an older event adds its flags
    pytest.param([(200, ("opt_out_contact",)), (100, ("vulnerable", "deceased"))], 11, 200,
                 [True, True], id="older-adds-the-flags-it-sets"),
    pytest.param([(200, ("opt_out_contact",)), (100, ("opt_out_contact",))], 1, 200,
                 [True, False], id="older-adding-nothing-new-unchanged"),
    pytest.param([(300, ("bankruptcy",)), (299, ())], 16, 300, [True, False],
                 id="older-clearing-event-ignored"),
    pytest.param([(200, ("opt_out_contact",)), (200, ("hardship_plan",))], 4, 200,
                 [True, True], id="equal-time-replaces"),
    pytest.param([(100, ("deceased", "bankruptcy")), (300, ())], 0, 300, [True, True],
                 id="newer-all-false-clears"),
    pytest.param([(100, ("opt_out_contact",)), (100, ("opt_out_contact",))], 1, 100,
                 [True, False], id="same-event-twice-unchanged"),
    pytest.param([(300, ("vulnerable",)), (100, ("opt_out_contact",)), (200, ("deceased",))],
                 11, 300, [True, True, True], id="out-of-order-older-ones-add"),
    pytest.param([(100, ("vulnerable",)), (300, ("opt_out_contact",)), (200, ())],
                 1, 300, [True, True, False], id="out-of-order-newest-clears"),
    pytest.param([(50, ())], 0, 50, [True], id="all-false-first-event-moves-the-clock"),
])
def test_flags_newest_replaces_older_add(events: list[tuple[int, tuple[str, ...]]],
                                         flags: int, flags_at: int,
                                         changed: list[bool]) -> None:
    state = ContactState()
    assert [state.apply_flags(flags_event(at, *fields)) for at, fields in events] == changed
    assert (state.flags, state.flags_at) == (flags, flags_at)


@pytest.mark.parametrize(("field", "constant", "bit"), [
    pytest.param("opt_out_contact", FLAG_OPT_OUT, 1, id="opt_out"),
    pytest.param("vulnerable", FLAG_VULNERABLE, 2, id="vulnerable"),
    pytest.param("hardship_plan", FLAG_HARDSHIP_PLAN, 4, id="hardship_plan"),
    pytest.param("deceased", FLAG_DECEASED, 8, id="deceased"),
    pytest.param("bankruptcy", FLAG_BANKRUPTCY, 16, id="bankruptcy"),
])
def test_each_flag_maps_to_its_bit(field: str, constant: int, bit: int) -> None:
    assert constant == bit  # stored bit: must never change
    state = ContactState()
    state.apply_flags(flags_event(T0, field))
    assert state.flags == bit
    assert state.has(bit)
    assert [b for b in FIELD_BITS.values() if state.has(b)] == [bit]


def test_all_flags_together() -> None:
    state = ContactState()
    state.apply_flags(flags_event(T0, *FIELD_BITS))
    assert state.flags == 31
    assert all(state.has(bit) for bit in FIELD_BITS.values())


def test_a_new_state_has_no_flags_and_no_contacts() -> None:
    state = ContactState()
    assert (state.flags, state.flags_at, state.contacts) == (0, 0, [])
    assert not any(state.has(bit) for bit in FIELD_BITS.values())


# --- the stored format -----------------------------------------------------------------------

@pytest.mark.parametrize(("state", "expected"), [
    pytest.param(state_of(), b"\x01\x00" + le(0, 8) + b"\x00", id="empty"),
    pytest.param(state_of(3, T0, [(T0 + 1, "PAYMENT_REMINDER")]),
                 b"\x01\x03" + le(T0, 8) + b"\x01" + le(T0 + 1, 8) + b"\x01",
                 id="flags-and-one-contact"),
    pytest.param(state_of(0, 0, [(1, "PAYMENT_DATE_MOVE"), (2, "OTHER")]),
                 b"\x01\x00" + le(0, 8) + b"\x02" + le(1, 8) + b"\x00" + le(2, 8) + b"\x05",
                 id="action-codes-first-and-last"),
    pytest.param(state_of(0, 0, [(10, "PAYMENT_DATE_MOVE"), (11, "PAYMENT_REMINDER"),
                                 (12, "INSTALMENT_PLAN"), (13, "SPECIALIST_CALL"),
                                 (14, "BUDGETING_SUPPORT"), (15, "OTHER")]),
                 b"\x01\x00" + le(0, 8) + b"\x06"
                 + le(10, 8) + b"\x00" + le(11, 8) + b"\x01" + le(12, 8) + b"\x02"
                 + le(13, 8) + b"\x03" + le(14, 8) + b"\x04" + le(15, 8) + b"\x05",
                 id="every-action-code"),
    pytest.param(state_of(0, 0, [(20, "ARREARS_REMINDER"), (21, "HARDSHIP_ASSESSMENT"),
                                 (22, "COLLECTIONS_HANDOFF")]),
                 b"\x01\x00" + le(0, 8) + b"\x03"
                 + le(20, 8) + b"\x06" + le(21, 8) + b"\x07" + le(22, 8) + b"\x08",
                 id="arrears-action-codes"),
])
def test_stored_bytes(state: ContactState, expected: bytes) -> None:
    assert state.to_bytes() == expected


@pytest.mark.parametrize("state", [
    pytest.param(state_of(), id="empty"),
    pytest.param(state_of(31, T0), id="all-flags-no-contacts"),
    pytest.param(state_of(FLAG_VULNERABLE, T0 - 5,
                          [(T0 + i * DAY, action) for i, action in enumerate(ACTIONS)]),
                 id="every-action"),
    pytest.param(state_of(FLAG_OPT_OUT, T0, [(T0 + i, "PAYMENT_REMINDER") for i in range(32)]),
                 id="32-contacts"),
    pytest.param(state_of(0, -(2**63), [(-(2**63), "OTHER"), (2**63 - 1, "SPECIALIST_CALL")]),
                 id="extreme-times"),
])
def test_codec_round_trip(state: ContactState) -> None:
    data = state.to_bytes()
    back = ContactState.from_bytes(data)
    assert (back.flags, back.flags_at, back.contacts) == (
        state.flags, state.flags_at, state.contacts)
    assert back.to_bytes() == data


def test_round_trip_of_a_state_built_through_the_api() -> None:
    state = ContactState()
    state.apply_flags(flags_event(T0, "vulnerable", "hardship_plan"))
    state.record(T0 + DAY, "SPECIALIST_CALL", 30 * DAY)
    state.record(T0 + 9 * DAY, "PAYMENT_REMINDER", 30 * DAY)
    back = ContactState.from_bytes(state.to_bytes())
    assert back.has(FLAG_VULNERABLE)
    assert back.has(FLAG_HARDSHIP_PLAN)
    assert not back.has(FLAG_OPT_OUT)
    assert back.flags_at == T0
    assert back.contacts == [(T0 + DAY, "SPECIALIST_CALL"), (T0 + 9 * DAY, "PAYMENT_REMINDER")]
    assert back.contacts_since(T0, T0 + 9 * DAY, "SPECIALIST_CALL") == 1


ONE = b"\x01\x03" + le(T0, 8) + b"\x01" + le(T0 + 1, 8) + b"\x01"  # one valid stored state


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(b"", "unreadable", id="empty-bytes"),
    pytest.param(b"\x01", "unreadable", id="version-only"),
    pytest.param(ONE[:10], "unreadable", id="truncated-header"),
    pytest.param(b"\x00" + ONE[1:], "version 0 is not 1", id="version-0"),
    pytest.param(b"\x02" + ONE[1:], "version 2 is not 1", id="version-2"),
    pytest.param(b"\xff" + ONE[1:], "version 255 is not 1", id="version-255"),
    pytest.param(ONE[:-1], "wrong length", id="truncated-contact"),
    pytest.param(ONE + b"\x00", "wrong length", id="trailing-byte"),
    pytest.param(ONE[:11], "wrong length", id="count-1-without-contact"),
    pytest.param(ONE[:10] + b"\x02" + ONE[11:], "wrong length", id="count-2-with-one-contact"),
    pytest.param(ONE[:10] + b"\x00" + ONE[11:], "wrong length", id="count-0-with-one-contact"),
    pytest.param(ONE[:-1] + bytes([len(ACTION_CODES)]), "unreadable",
                 id="first-unknown-action-code"),
    pytest.param(ONE[:-1] + b"\xff", "unreadable", id="unknown-action-code-255"),
])
def test_damaged_bytes_are_refused(data: bytes, message: str) -> None:
    assert len(ACTION_CODES) == 9
    with pytest.raises(ContactStateError, match=message):
        ContactState.from_bytes(data)


def test_contact_state_error_is_a_value_error() -> None:
    assert issubclass(ContactStateError, ValueError)


# --- the contact history ---------------------------------------------------------------------

PDM, PR, IP, SC = "PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN", "SPECIALIST_CALL"


@pytest.mark.parametrize(("memory_days", "earlier", "new", "kept"), [
    pytest.param(30, [(0, PDM)], (29 * DAY, PR), [(0, PDM), (29 * DAY, PR)],
                 id="within-memory-kept"),
    pytest.param(30, [(1, PDM)], (30 * DAY, PR), [(1, PDM), (30 * DAY, PR)],
                 id="1ms-inside-horizon-kept"),
    pytest.param(30, [(0, PDM)], (30 * DAY, PR), [(30 * DAY, PR)],
                 id="exactly-memory-old-forgotten"),
    pytest.param(30, [(0, PDM), (5 * DAY, PR), (20 * DAY, IP)], (40 * DAY, SC),
                 [(20 * DAY, IP), (40 * DAY, SC)], id="several-forgotten"),
    pytest.param(7, [(0, PDM)], (7 * DAY, PR), [(7 * DAY, PR)], id="7-day-memory"),
    pytest.param(7, [(0, PDM)], (7 * DAY - 1, PR), [(0, PDM), (7 * DAY - 1, PR)],
                 id="7-day-memory-1ms-inside"),
    pytest.param(30, [(10 * DAY, PDM)], (5 * DAY, PR), [(5 * DAY, PR), (10 * DAY, PDM)],
                 id="late-contact-sorted-in"),
    pytest.param(30, [(40 * DAY, PDM)], (5 * DAY, PR), [(40 * DAY, PDM)],
                 id="late-contact-beyond-memory-forgotten"),
    pytest.param(30, [(DAY, PDM)], (DAY, PR), [(DAY, PDM), (DAY, PR)],
                 id="same-ms-both-kept"),
])
def test_history_is_pruned_to_the_memory_horizon(
        memory_days: int, earlier: list[tuple[int, str]], new: tuple[int, str],
        kept: list[tuple[int, str]]) -> None:
    state = ContactState()
    for at, action in earlier:
        state.record(T0 + at, action, memory_days * DAY)
    state.record(T0 + new[0], new[1], memory_days * DAY)
    assert state.contacts == [(T0 + at, action) for at, action in kept]


@pytest.mark.parametrize(("recorded", "kept"), [
    pytest.param(31, 31, id="31-all-kept"),
    pytest.param(32, 32, id="32-all-kept"),
    pytest.param(33, 32, id="33-oldest-dropped"),
    pytest.param(50, 32, id="50-newest-32-kept"),
])
def test_history_keeps_at_most_32_contacts(recorded: int, kept: int) -> None:
    state = ContactState()
    for i in range(recorded):
        state.record(T0 + i * 60_000, ACTIONS[i % len(ACTIONS)], 30 * DAY)
    expected = [(T0 + i * 60_000, ACTIONS[i % len(ACTIONS)])
                for i in range(recorded - kept, recorded)]
    assert state.contacts == expected
    assert ContactState.from_bytes(state.to_bytes()).contacts == expected


HISTORY = [(100, PDM), (200, PR), (300, PR), (400, SC)]


@pytest.mark.parametrize(("since", "until", "action", "count"), [
    pytest.param(100, 400, None, 3, id="since-exclusive"),
    pytest.param(99, 400, None, 4, id="since-1ms-earlier-includes"),
    pytest.param(100, 399, None, 2, id="until-inclusive-399-excludes-400"),
    pytest.param(0, 400, None, 4, id="until-inclusive"),
    pytest.param(200, 300, None, 1, id="one-in-window"),
    pytest.param(300, 300, None, 0, id="empty-window"),
    pytest.param(400, 100, None, 0, id="inverted-window"),
    pytest.param(0, 10_000, PR, 2, id="action-filter"),
    pytest.param(200, 10_000, PR, 1, id="action-filter-since-exclusive"),
    pytest.param(199, 300, PR, 2, id="action-filter-both-bounds"),
    pytest.param(0, 10_000, "OTHER", 0, id="action-never-contacted"),
    pytest.param(400, 10_000, None, 0, id="after-the-last-contact"),
])
def test_contacts_since_window(since: int, until: int, action: str | None, count: int) -> None:
    state = state_of(contacts=HISTORY)
    assert state.contacts_since(since, until, action) == count


def test_action_codes_are_the_stored_order() -> None:
    # appended, never reordered: a reordering would read stored contacts as other actions
    assert ACTION_CODES == ACTIONS


@pytest.mark.parametrize("code", range(6, 9))
def test_arrears_action_codes_read_back(code: int) -> None:
    data = b"\x01\x00" + le(0, 8) + b"\x01" + le(T0, 8) + bytes([code])
    assert ContactState.from_bytes(data).contacts == [(T0, ACTIONS[code])]


# --- flags dated in the future or the past (security review H2) ----------------------------------

LATEST = T0 + 300_000  # wall clock plus the allowed skew


@pytest.mark.parametrize(("events", "flags", "flags_at"), [
    pytest.param([(T0, ()), (T0 + 400 * DAY, ("opt_out_contact",))], 1, T0,
                 id="future-opt-out-applies-at-once-and-moves-no-flags-time"),
    pytest.param([(T0, ("deceased",)), (T0 + 400 * DAY, ())], 8, T0,
                 id="future-event-clears-nothing"),
    pytest.param([(T0 + 400 * DAY, ()), (T0 - DAY, ("opt_out_contact",))], 1, T0 - DAY,
                 id="a-future-clear-cannot-hold-off-a-later-real-flag"),
    pytest.param([(T0, ()), (T0 - 20 * 365 * DAY, ("vulnerable",))], 2, T0,
                 id="far-past-flag-applies"),
])
def test_flags_beyond_the_latest_time_add_protection_and_clear_nothing(
        events: list[tuple[int, tuple[str, ...]]], flags: int, flags_at: int) -> None:
    state = ContactState()
    for at, fields in events:
        state.apply_flags(flags_event(at, *fields), LATEST)
    assert (state.flags, state.flags_at) == (flags, flags_at)


def test_a_stored_flags_time_beyond_the_latest_time_does_not_hold_off_newer_flags() -> None:
    state = state_of(FLAG_VULNERABLE, T0 + 400 * DAY)  # stored before such events were refused
    assert state.apply_flags(flags_event(T0, "opt_out_contact"), LATEST)  # older: adds
    assert (state.flags, state.flags_at) == (FLAG_VULNERABLE | FLAG_OPT_OUT, LATEST)
    later = LATEST + DAY  # a day on: the next flags event replaces them as usual
    assert state.apply_flags(flags_event(later - 60_000, "deceased"), later)
    assert (state.flags, state.flags_at) == (FLAG_DECEASED, later - 60_000)


def test_contacts_recorded_after_now_count_as_made_now() -> None:
    state = state_of(contacts=[(T0 - DAY, "PAYMENT_REMINDER"), (T0 + 400 * DAY, "OTHER")])
    state.made_by(T0)
    assert state.contacts == [(T0 - DAY, "PAYMENT_REMINDER"), (T0, "OTHER")]
    assert state.contacts_since(T0 - 7 * DAY, T0) == 2

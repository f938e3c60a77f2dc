"""A customer's contact history and care flags (pure), kept in its own table.

Small and rarely written: only when customer flags arrive or when a decision contacts the
customer. Every flag protects the customer (no contact, or the specialist route), so a flag
an event sets takes effect on arrival whatever the event's time; only a newer flags event
clears one (``apply_flags``). Contacts are recorded at the wall-clock time of the decision
that made them, not at a time an input claims, so no event dated in the future or the past
can move a contact out of a cap's or cooldown's window.
"""

from __future__ import annotations

import struct

from stream_app.events import CustomerFlags

__all__ = [
    "ACTION_CODES",
    "FLAG_BANKRUPTCY",
    "FLAG_DECEASED",
    "FLAG_HARDSHIP_PLAN",
    "FLAG_OPT_OUT",
    "FLAG_VULNERABLE",
    "ContactState",
    "ContactStateError",
]

FLAG_OPT_OUT = 1
FLAG_VULNERABLE = 2
FLAG_HARDSHIP_PLAN = 4
FLAG_DECEASED = 8
FLAG_BANKRUPTCY = 16
# stored as their index: append new actions, never reorder
ACTION_CODES = ("PAYMENT_DATE_MOVE", "PAYMENT_REMINDER", "INSTALMENT_PLAN", "SPECIALIST_CALL",
                "BUDGETING_SUPPORT", "OTHER", "ARREARS_REMINDER", "HARDSHIP_ASSESSMENT",
                "COLLECTIONS_HANDOFF")
MAX_CONTACTS = 32
_VERSION = 1
_HEAD = struct.Struct("<BBqB")  # version, flags, flags_at, number of contacts
_CONTACT = struct.Struct("<qB")  # at (ms), action code


class ContactStateError(ValueError):
    """Stored contact state bytes are not readable."""


class ContactState:
    __slots__ = ("contacts", "flags", "flags_at")

    def __init__(self) -> None:
        self.flags = 0
        self.flags_at = 0  # occurred_at of the flags event in force (newest wins)
        self.contacts: list[tuple[int, str]] = []  # (at ms, action), oldest first

    def apply_flags(self, event: CustomerFlags, latest_ms: int | None = None) -> bool:
        """Take a flags event in; True when the flags (or their time) changed.

        A flags event newer than the flags in force replaces them (newest wins: it may clear
        a flag). Any other one, older or dated after ``latest_ms`` (the wall clock plus the
        allowed skew), adds the flags it sets and clears nothing: a protection takes effect
        on arrival whatever the event's time, and no event, however dated, can hold off a
        later real one. A stored flags time beyond ``latest_ms`` (written before such
        events were refused) is brought back to ``latest_ms``: flags events dated after that
        replace those flags again."""
        flags = ((FLAG_OPT_OUT if event.opt_out_contact else 0)
                 | (FLAG_VULNERABLE if event.vulnerable else 0)
                 | (FLAG_HARDSHIP_PLAN if event.hardship_plan else 0)
                 | (FLAG_DECEASED if event.deceased else 0)
                 | (FLAG_BANKRUPTCY if event.bankruptcy else 0))
        at = event.occurred_at
        before = (self.flags, self.flags_at)
        if latest_ms is not None and self.flags_at > latest_ms:
            self.flags_at = latest_ms
        if at >= self.flags_at and (latest_ms is None or at <= latest_ms):
            self.flags, self.flags_at = flags, at
        else:
            self.flags |= flags
        return (self.flags, self.flags_at) != before

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    def record(self, at_ms: int, action: str, memory_ms: int) -> None:
        """Remember a contact; forget those older than ``memory_ms`` before it."""
        self.contacts.append((at_ms, action))
        self.contacts.sort()
        horizon = max(at for at, _ in self.contacts) - memory_ms
        self.contacts = [c for c in self.contacts if c[0] > horizon][-MAX_CONTACTS:]

    def made_by(self, now_ms: int) -> None:
        """Count a contact recorded after ``now_ms`` as made at ``now_ms``: every contact was
        made by now (one dated later was recorded at a trigger's claimed event time, before
        contacts were recorded at the decision's wall-clock time)."""
        if self.contacts and self.contacts[-1][0] > now_ms:
            self.contacts = sorted((min(at, now_ms), action) for at, action in self.contacts)

    def contacts_since(self, since_ms: int, until_ms: int, action: str | None = None) -> int:
        return sum(1 for at, act in self.contacts
                   if since_ms < at <= until_ms and (action is None or act == action))

    def to_bytes(self) -> bytes:
        parts = [_HEAD.pack(_VERSION, self.flags, self.flags_at, len(self.contacts))]
        parts += [_CONTACT.pack(at, ACTION_CODES.index(action)) for at, action in self.contacts]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> ContactState:
        try:
            version, flags, flags_at, count = _HEAD.unpack_from(data, 0)
            if version != _VERSION:
                raise ContactStateError(f"contact state version {version} is not {_VERSION}")
            if len(data) != _HEAD.size + count * _CONTACT.size:
                raise ContactStateError("contact state has the wrong length")
            state = cls()
            state.flags, state.flags_at = flags, flags_at
            state.contacts = [
                (at, ACTION_CODES[code])
                for at, code in (_CONTACT.unpack_from(data, _HEAD.size + i * _CONTACT.size)
                                 for i in range(count))]
        except ContactStateError:
            raise
        except (struct.error, IndexError) as exc:
            raise ContactStateError(f"unreadable contact state ({type(exc).__name__})") from None
        return state

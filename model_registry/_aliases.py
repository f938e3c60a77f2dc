"""Alias management with an undo history: promote a version, roll an alias back.

Every change of an alias made here is appended to ``<root>/aliases.jsonl``, one JSON object a
line (fsynced before the call returns)::

    {"action": "promote", "alias": "champion", "external": false, "previous": "v1",
     "time": "2026-03-01T12:00:00+00:00", "version": "v2"}

``previous`` is the version the alias pointed at before the change (``null`` when it was not
set). The history is append-only; the state of an alias is derived from it as an undo stack:
a promote pushes the version it replaced, a rollback pops it and points the alias back there.
So a rollback undoes the last promote still in effect, and a second rollback undoes the one
before it.

The alias links themselves (``<root>/<alias> -> versions/<v>``) stay the truth that the worker
follows; :func:`set_alias` remains the atomic low-level primitive. When a link was changed
without this module (``set_alias`` called directly, e.g. by a training run that points
``champion`` at its new model), the next promote or rollback first records that change as an
``external`` promote, so that rolling back undoes it as well.

Promotes and rollbacks of one registry are serialised with ``fcntl.flock`` on
``<root>/.aliases.lock``; readers (:func:`aliases`, :func:`history`) take no lock and work on
read-only registries. A record cut short by a crash (a last line without its newline) is
ignored by readers and removed by the next writer; any other unreadable line makes the history
corrupt, and promote and rollback then refuse rather than guess.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._store import (
    ALIAS_HISTORY_FILE,
    CorruptModelError,
    ModelNotFoundError,
    ModelVersion,
    RegistryError,
    open_version,
    resolve_alias,
    set_alias,
    version_dir,
)

__all__ = [
    "ALIAS_LOCK_FILE",
    "AliasChange",
    "aliases",
    "history",
    "promote",
    "rollback",
]

ALIAS_LOCK_FILE = ".aliases.lock"

Action = Literal["promote", "rollback"]
_ACTIONS: tuple[Action, ...] = ("promote", "rollback")
_ALIAS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class AliasChange:
    """One line of the alias history."""

    alias: str
    version: str
    previous: str | None
    time: dt.datetime
    action: Action
    external: bool = False  # a change found on disk, made without promote/rollback

    def to_json(self) -> str:
        return json.dumps({
            "action": self.action,
            "alias": self.alias,
            "external": self.external,
            "previous": self.previous,
            "time": self.time.isoformat(),
            "version": self.version,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> AliasChange:
        """Parse one history line; ValueError/KeyError/TypeError when it is not a record."""
        raw: Any = json.loads(line)
        if not isinstance(raw, dict):
            raise TypeError("not a JSON object")
        alias, version, previous = raw["alias"], raw["version"], raw["previous"]
        action, external = raw["action"], raw.get("external", False)
        if not isinstance(alias, str) or not isinstance(version, str):
            raise TypeError("alias and version must be strings")
        if previous is not None and not isinstance(previous, str):
            raise TypeError("previous must be a string or null")
        if action not in _ACTIONS or not isinstance(external, bool):
            raise ValueError(f"unknown action {action!r}")
        time = dt.datetime.fromisoformat(raw["time"])
        if time.tzinfo is None:
            raise ValueError("time has no timezone")
        return cls(alias, version, previous, time, action, external)


@dataclass
class _AliasState:
    """An alias as its history describes it: current version and the undo stack."""

    current: str | None = None
    stack: list[str | None] = field(default_factory=list)

    def apply(self, change: AliasChange) -> None:
        if change.action == "promote":
            self.stack.append(change.previous)
        elif self.stack:
            self.stack.pop()
        self.current = change.version


# --- names, time, files ----------------------------------------------------------------------


def _check_alias(alias: str) -> None:
    if not _ALIAS_NAME.match(alias) or alias == "versions":
        raise RegistryError(
            f"invalid alias name {alias!r}: letters, digits, '-' and '_', not 'versions'")


def _check_version(version: str) -> None:
    if not version or "/" in version or version.startswith(".") or "\0" in version:
        raise RegistryError(f"invalid version name {version!r}")


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


def _read_lines(root: Path) -> list[str]:
    """Complete lines of the history; a torn last line (no newline) is left out."""
    path = root / ALIAS_HISTORY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise RegistryError(f"{path} is corrupt: not UTF-8 text") from None
    lines = text.split("\n")
    return lines[:-1]  # the part after the last newline is empty, or a torn record


def _read_history(root: Path) -> list[AliasChange]:
    changes = []
    for number, line in enumerate(_read_lines(root), start=1):
        if not line.strip():
            continue
        try:
            changes.append(AliasChange.from_json(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(
                f"{root / ALIAS_HISTORY_FILE} is corrupt at line {number} ({exc}); "
                "fix or move the file before changing aliases") from None
    return changes


def _states(changes: list[AliasChange]) -> dict[str, _AliasState]:
    states: dict[str, _AliasState] = {}
    for change in changes:
        states.setdefault(change.alias, _AliasState()).apply(change)
    return states


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    if not root.is_dir():
        raise RegistryError(f"no model registry at {root}")
    fd = os.open(root / ALIAS_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _repair_torn_tail(path: Path) -> None:
    """Cut a record left without its newline by a crash (called under the lock)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def _append(root: Path, change: AliasChange) -> None:
    """Append one record and fsync it (called under the lock)."""
    path = root / ALIAS_HISTORY_FILE
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = (change.to_json() + "\n").encode()
        written = os.write(fd, data)
        if written != len(data):  # a regular file takes it whole unless the disk is full
            raise RegistryError(f"short write to {path}: disk full?")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _reconcile(root: Path, alias: str, state: _AliasState, time: dt.datetime) -> None:
    """Record a link change made outside this module, so the undo stack includes it."""
    actual = resolve_alias(root, alias)
    if actual is None or actual == state.current:
        return
    change = AliasChange(alias, actual, state.current, time, "promote", external=True)
    _append(root, change)
    state.apply(change)


def _verify(root: Path, version: str, check: Callable[[ModelVersion], None] | None) -> None:
    """Refuse (RegistryError) a version that is not a plain directory inside the registry,
    is missing (ModelNotFoundError) or fails its checksums (CorruptModelError)."""
    opened = open_version(version_dir(root, version))
    if check is not None:
        check(opened)


# --- public API ------------------------------------------------------------------------------


def promote(
    root: Path,
    version: str,
    alias: str,
    *,
    now: dt.datetime | None = None,
    check: Callable[[ModelVersion], None] | None = None,
) -> AliasChange | None:
    """Point ``alias`` at ``version`` and record it; None when it already pointed there.

    The version is verified (checksums, metadata) first, and ``check`` (when given) is called
    with the verified version and may raise to refuse it; a refused version leaves the alias
    and the history untouched.
    """
    _check_alias(alias)
    _check_version(version)
    time = _utc(now)
    with _locked(root):
        _repair_torn_tail(root / ALIAS_HISTORY_FILE)
        state = _states(_read_history(root)).get(alias, _AliasState())
        _verify(root, version, check)
        _reconcile(root, alias, state, time)
        previous = resolve_alias(root, alias)
        if previous == version:
            return None
        set_alias(root, alias, version)  # the link first: the history never runs ahead of it
        change = AliasChange(alias, version, previous, time, "promote")
        _append(root, change)
        return change


def rollback(
    root: Path,
    alias: str,
    *,
    now: dt.datetime | None = None,
    check: Callable[[ModelVersion], None] | None = None,
) -> AliasChange:
    """Point ``alias`` back at the version it had before its last promote still in effect.

    Refuses (RegistryError, nothing changed) when there is nothing to roll back to, or when
    that version is now missing, corrupt, outside the registry (the history is a file anyone
    with write access could edit: its target is checked like a promoted version), or refused
    by ``check``.
    """
    _check_alias(alias)
    time = _utc(now)
    with _locked(root):
        _repair_torn_tail(root / ALIAS_HISTORY_FILE)
        state = _states(_read_history(root)).get(alias, _AliasState())
        current = resolve_alias(root, alias)
        if current is None:
            raise RegistryError(f"alias {alias} is not set in {root}: nothing to roll back")
        if state.current != current:  # changed outside promote/rollback: undo that change
            if state.current is None:
                raise RegistryError(
                    f"nothing to roll back to: {alias} points at {current}, set without "
                    "`promote` (no earlier version is recorded in the alias history)")
            target = state.current
        else:
            top = state.stack[-1] if state.stack else None
            if top is None:
                raise RegistryError(
                    f"nothing to roll back to: {current} is the first version recorded "
                    f"for {alias}")
            target = top
        try:
            _verify(root, target, check)
        except RegistryError as exc:  # same kind of error, saying which rollback it refused
            kind = type(exc) if type(exc) in (ModelNotFoundError, CorruptModelError) else (
                RegistryError)
            raise kind(f"cannot roll {alias} back from {current} to {target}: {exc}") from None
        _reconcile(root, alias, state, time)
        set_alias(root, alias, target)
        change = AliasChange(alias, target, current, time, "rollback")
        _append(root, change)
        return change


def aliases(root: Path) -> dict[str, str]:
    """Every alias link in the registry and the version it points at (sorted by alias)."""
    if not root.is_dir():
        return {}
    found = {}
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_symlink():
            continue
        target = entry.readlink()
        if target.parent == Path("versions"):
            found[entry.name] = target.name
    return dict(sorted(found.items()))


def history(root: Path, alias: str | None = None) -> list[AliasChange]:
    """The recorded changes of ``alias`` (of every alias when None), oldest first."""
    changes = _read_history(root)
    return [c for c in changes if alias is None or c.alias == alias]

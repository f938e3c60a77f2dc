"""Alias promote/rollback with an append-only history: undo-stack semantics, refusals, locking."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from model_registry import (
    ALIAS_HISTORY_FILE,
    ALIAS_LOCK_FILE,
    MODEL_FILE,
    AliasChange,
    CorruptModelError,
    ModelNotFoundError,
    ModelVersion,
    RegistryError,
    aliases,
    history,
    promote,
    resolve_alias,
    rollback,
    set_alias,
    write_version,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _new(root: Path, version: str, **metadata: object) -> Path:
    return write_version(root, version, lambda p: p.write_bytes(b"model " + version.encode()),
                         {"feature_names": ["a", "b"], **metadata}).path


def _registry(root: Path, *versions: str) -> Path:
    for version in versions:
        _new(root, version)
    return root


def _lines(root: Path) -> list[dict[str, object]]:
    path = root / ALIAS_HISTORY_FILE
    if not path.exists():
        return []
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _corrupt(root: Path, version: str) -> None:
    model = root / "versions" / version / MODEL_FILE
    model.write_bytes(model.read_bytes() + b"!")


# --- promote ---------------------------------------------------------------------------------


def test_promote_points_the_alias_and_appends_one_history_line(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    first = promote(root, "v1", "champion", now=_at(0))
    second = promote(root, "v2", "champion", now=_at(1))

    assert resolve_alias(root, "champion") == "v2"
    assert first == AliasChange("champion", "v1", None, _at(0), "promote")
    assert second == AliasChange("champion", "v2", "v1", _at(1), "promote")
    assert _lines(root) == [
        {"alias": "champion", "version": "v1", "previous": None, "action": "promote",
         "time": "2026-03-01T12:00:00+00:00", "external": False},
        {"alias": "champion", "version": "v2", "previous": "v1", "action": "promote",
         "time": "2026-03-01T12:01:00+00:00", "external": False},
    ]
    assert history(root, "champion") == [first, second]


def test_history_times_are_utc(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    paris = dt.timezone(dt.timedelta(hours=2))
    promote(root, "v1", "champion", now=dt.datetime(2026, 6, 1, 14, 30, tzinfo=paris))
    assert _lines(root)[0]["time"] == "2026-06-01T12:30:00+00:00"
    with pytest.raises(ValueError, match="timezone"):
        promote(root, "v1", "challenger", now=dt.datetime(2026, 6, 1, 14, 30))  # naive on purpose
    assert resolve_alias(root, "challenger") is None


def test_promote_without_now_records_the_current_utc_time(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    before = dt.datetime.now(dt.UTC)
    change = promote(root, "v1", "champion")
    after = dt.datetime.now(dt.UTC)
    assert change is not None
    assert before <= change.time <= after
    assert change.time.utcoffset() == dt.timedelta(0)


def test_promoting_the_current_version_is_a_no_op_that_is_not_recorded(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    assert promote(root, "v2", "champion", now=_at(2)) is None
    assert resolve_alias(root, "champion") == "v2"
    assert len(_lines(root)) == 2
    # and the undo stack is unaffected: one rollback goes to v1
    assert rollback(root, "champion", now=_at(3)).version == "v1"


def test_aliases_are_independent(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2", "v3")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "challenger", now=_at(1))
    promote(root, "v3", "challenger", now=_at(2))
    promote(root, "v2", "champion", now=_at(3))
    assert aliases(root) == {"challenger": "v3", "champion": "v2"}
    assert rollback(root, "challenger", now=_at(4)).version == "v2"
    assert aliases(root) == {"challenger": "v2", "champion": "v2"}
    assert rollback(root, "champion", now=_at(5)).version == "v1"
    assert [c.version for c in history(root, "challenger")] == ["v2", "v3", "v2"]
    assert [c.version for c in history(root, "champion")] == ["v1", "v2", "v1"]
    assert len(history(root)) == 6


# --- rollback: an undo stack derived from the history ----------------------------------------


def test_rollback_of_a_rollback_walks_further_back(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2", "v3")
    for minute, version in enumerate(["v1", "v2", "v3"]):
        promote(root, version, "champion", now=_at(minute))

    back = rollback(root, "champion", now=_at(10))
    assert back == AliasChange("champion", "v2", "v3", _at(10), "rollback")
    assert resolve_alias(root, "champion") == "v2"
    assert rollback(root, "champion", now=_at(11)).version == "v1"
    assert resolve_alias(root, "champion") == "v1"

    with pytest.raises(RegistryError, match=r"nothing to roll back to.*v1 is the first version"):
        rollback(root, "champion", now=_at(12))
    assert resolve_alias(root, "champion") == "v1"
    assert [(line["action"], line["previous"], line["version"]) for line in _lines(root)] == [
        ("promote", None, "v1"),
        ("promote", "v1", "v2"),
        ("promote", "v2", "v3"),
        ("rollback", "v3", "v2"),
        ("rollback", "v2", "v1"),
    ]


def test_a_promote_after_a_rollback_is_undone_first(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2", "v3")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    rollback(root, "champion", now=_at(2))  # back to v1; the v2 promote is no longer in effect
    promote(root, "v3", "champion", now=_at(3))
    assert rollback(root, "champion", now=_at(4)).version == "v1"  # not v2
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback(root, "champion", now=_at(5))


def test_promoting_an_earlier_version_again_stacks_like_any_promote(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    promote(root, "v1", "champion", now=_at(2))
    assert rollback(root, "champion", now=_at(3)).version == "v2"
    assert rollback(root, "champion", now=_at(4)).version == "v1"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback(root, "champion", now=_at(5))


def test_rollback_of_an_unset_alias_or_an_empty_history_is_refused(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    with pytest.raises(RegistryError, match="not set"):
        rollback(root, "champion")
    promote(root, "v1", "champion", now=_at(0))
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        rollback(root, "champion")
    assert len(_lines(root)) == 1
    with pytest.raises(RegistryError, match="no model registry"):
        rollback(tmp_path / "nowhere", "champion")


def test_rollback_refuses_a_previous_version_that_is_now_corrupt(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    _corrupt(root, "v1")
    before = (root / ALIAS_HISTORY_FILE).read_bytes()
    with pytest.raises(RegistryError, match=r"from v2 to v1: .*model\.cbm does not match"):
        rollback(root, "champion", now=_at(2))
    assert resolve_alias(root, "champion") == "v2"
    assert (root / ALIAS_HISTORY_FILE).read_bytes() == before


def test_rollback_refuses_a_previous_version_that_is_gone(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    shutil.rmtree(root / "versions" / "v1")
    with pytest.raises(ModelNotFoundError, match="v1") as raised:
        rollback(root, "champion", now=_at(2))
    assert "from v2 to v1" in str(raised.value)
    assert resolve_alias(root, "champion") == "v2"
    assert len(_lines(root)) == 2


def test_a_check_can_refuse_promote_and_rollback(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2", "v3")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    seen: list[str] = []

    def only_v2_and_v3(version: ModelVersion) -> None:
        seen.append(version.version)
        if version.version == "v1":
            raise RegistryError("v1 is not allowed")

    assert promote(root, "v3", "champion", now=_at(2), check=only_v2_and_v3) is not None
    assert seen == ["v3"]
    rollback(root, "champion", now=_at(3), check=only_v2_and_v3)  # to v2
    with pytest.raises(RegistryError, match="v1 is not allowed"):
        rollback(root, "champion", now=_at(4), check=only_v2_and_v3)
    with pytest.raises(RegistryError, match="v1 is not allowed"):
        promote(root, "v1", "challenger", check=only_v2_and_v3)
    assert aliases(root) == {"champion": "v2"}
    assert len(_lines(root)) == 4


def test_rollback_refuses_a_target_outside_the_registry(tmp_path: Path) -> None:
    """The history names the rollback target; an edited history must not move the alias
    to a (valid) version of another directory."""
    root = _registry(tmp_path / "registry", "v1", "v2")
    _registry(tmp_path / "other", "evil")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    lines = (root / ALIAS_HISTORY_FILE).read_text().splitlines()
    tampered = json.loads(lines[-1])
    tampered["previous"] = "../../other/versions/evil"
    lines[-1] = json.dumps(tampered)
    (root / ALIAS_HISTORY_FILE).write_text("\n".join(lines) + "\n")
    before = (root / ALIAS_HISTORY_FILE).read_bytes()
    with pytest.raises(RegistryError, match=r"from v2 to \.\./\.\./other/versions/evil: "
                                            "invalid version name"):
        rollback(root, "champion", now=_at(2))
    assert (root / "champion").readlink() == Path("versions/v2")
    assert (root / ALIAS_HISTORY_FILE).read_bytes() == before


def test_promote_and_rollback_refuse_a_version_linked_from_outside(tmp_path: Path) -> None:
    root = _registry(tmp_path / "registry", "v1", "v2")
    elsewhere = _new(tmp_path / "other", "v3")
    (root / "versions" / "v3").symlink_to(elsewhere)  # valid checksums, outside the registry
    with pytest.raises(RegistryError, match="symbolic link"):
        promote(root, "v3", "champion", now=_at(0))
    assert aliases(root) == {}
    promote(root, "v2", "champion", now=_at(1))
    promote(root, "v1", "champion", now=_at(2))
    shutil.rmtree(root / "versions" / "v2")
    (root / "versions" / "v2").symlink_to(elsewhere)  # the rollback target swapped for a link
    with pytest.raises(RegistryError, match=r"from v1 to v2: .*symbolic link"):
        rollback(root, "champion", now=_at(3))
    assert resolve_alias(root, "champion") == "v1"
    assert len(_lines(root)) == 2


# --- never a corrupt, partial or missing version ---------------------------------------------


def test_promote_refuses_a_corrupt_version_and_records_nothing(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    _corrupt(root, "v2")
    with pytest.raises(CorruptModelError, match="does not match"):
        promote(root, "v2", "champion", now=_at(1))
    assert resolve_alias(root, "champion") == "v1"
    assert len(_lines(root)) == 1


def test_promote_refuses_a_partial_version(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    staging = root / "versions" / "v2"  # as a crash mid-copy would leave it: no checksums
    staging.mkdir()
    (staging / MODEL_FILE).write_bytes(b"half a mod")
    with pytest.raises(CorruptModelError, match="SHA256SUMS"):
        promote(root, "v2", "champion")
    assert resolve_alias(root, "champion") is None
    assert _lines(root) == []


def test_promote_refuses_a_missing_version(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    with pytest.raises(ModelNotFoundError):
        promote(root, "v9", "champion")
    assert aliases(root) == {}
    assert _lines(root) == []


@pytest.mark.parametrize("version", ["", "..", ".hidden", "../v1", "a/b"])
def test_promote_refuses_invalid_version_names(tmp_path: Path, version: str) -> None:
    root = _registry(tmp_path, "v1")
    with pytest.raises(RegistryError, match="invalid version"):
        promote(root, version, "champion")
    assert aliases(root) == {}


@pytest.mark.parametrize("alias", ["", "versions", ".hidden", "a/b", ALIAS_HISTORY_FILE])
def test_invalid_alias_names_are_refused(tmp_path: Path, alias: str) -> None:
    root = _registry(tmp_path, "v1")
    promote(root, "v1", "champion", now=_at(0))
    with pytest.raises(RegistryError, match="invalid alias"):
        promote(root, "v1", alias)
    with pytest.raises(RegistryError, match="invalid alias"):
        rollback(root, alias)
    assert (root / ALIAS_HISTORY_FILE).is_file()
    assert len(_lines(root)) == 1


def test_set_alias_cannot_overwrite_the_history(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    promote(root, "v1", "champion", now=_at(0))
    with pytest.raises(RegistryError, match="invalid alias"):
        set_alias(root, ALIAS_HISTORY_FILE, "v1")
    assert not (root / ALIAS_HISTORY_FILE).is_symlink()
    assert len(_lines(root)) == 1


# --- links changed without promote (e.g. `train` calling set_alias) --------------------------


def test_a_link_changed_outside_promote_is_recorded_and_rolled_back(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    set_alias(root, "champion", "v2")  # as `predelinq train` does for its new model

    back = rollback(root, "champion", now=_at(5))
    assert (back.previous, back.version) == ("v2", "v1")
    assert resolve_alias(root, "champion") == "v1"
    assert [(line["action"], line["external"], line["previous"], line["version"])
            for line in _lines(root)] == [
        ("promote", False, None, "v1"),
        ("promote", True, "v1", "v2"),  # found on disk at the rollback
        ("rollback", False, "v2", "v1"),
    ]


def test_a_link_changed_outside_promote_stays_on_the_undo_stack(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2", "v3")
    promote(root, "v1", "champion", now=_at(0))
    set_alias(root, "champion", "v2")
    change = promote(root, "v3", "champion", now=_at(2))
    assert change is not None
    assert change.previous == "v2"
    assert rollback(root, "champion", now=_at(3)).version == "v2"
    assert rollback(root, "champion", now=_at(4)).version == "v1"


def test_rollback_of_a_link_never_promoted_is_refused(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    set_alias(root, "champion", "v1")
    with pytest.raises(RegistryError, match=r"nothing to roll back to.*without `promote`"):
        rollback(root, "champion")
    assert resolve_alias(root, "champion") == "v1"
    assert _lines(root) == []


# --- reading the registry --------------------------------------------------------------------


def test_aliases_lists_only_links_into_versions(tmp_path: Path) -> None:
    assert aliases(tmp_path / "nowhere") == {}
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v2", "champion", now=_at(0))
    set_alias(root, "challenger", "v1")
    (root / "notes").mkdir()
    (root / "elsewhere").symlink_to(tmp_path)
    (root / ".hidden").symlink_to(Path("versions") / "v1")
    assert aliases(root) == {"challenger": "v1", "champion": "v2"}
    assert list(aliases(root)) == ["challenger", "champion"]
    assert history(root, "challenger") == []


def test_a_torn_last_line_is_ignored_then_cut_by_the_next_writer(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    path = root / ALIAS_HISTORY_FILE
    with path.open("a") as handle:  # a crash in the middle of an append
        handle.write('{"action": "promote", "alias": "champ')
    assert [c.version for c in history(root)] == ["v1"]

    promote(root, "v2", "champion", now=_at(1))
    assert [line["version"] for line in _lines(root)] == ["v1", "v2"]  # parseable, no fragment


def test_a_damaged_history_line_makes_promote_and_rollback_refuse(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1", "v2")
    promote(root, "v1", "champion", now=_at(0))
    promote(root, "v2", "champion", now=_at(1))
    path = root / ALIAS_HISTORY_FILE
    lines = path.read_text().splitlines()
    path.write_text(f"{lines[0]}\nnot json at all\n{lines[1]}\n")
    for attempt in (lambda: rollback(root, "champion"),
                    lambda: promote(root, "v1", "champion"),
                    lambda: history(root)):
        with pytest.raises(RegistryError, match="corrupt at line 2"):
            attempt()
    assert resolve_alias(root, "champion") == "v2"


@pytest.mark.parametrize("record", [
    {"alias": "champion", "version": "v1", "previous": None, "action": "demote",
     "time": "2026-03-01T12:00:00+00:00"},
    {"alias": "champion", "version": 1, "previous": None, "action": "promote",
     "time": "2026-03-01T12:00:00+00:00"},
    {"alias": "champion", "version": "v1", "previous": None, "action": "promote",
     "time": "2026-03-01T12:00:00"},
    {"alias": "champion", "version": "v1", "action": "promote",
     "time": "2026-03-01T12:00:00+00:00"},
    ["champion", "v1"],
])
def test_records_of_the_wrong_shape_are_corrupt(tmp_path: Path, record: object) -> None:
    root = _registry(tmp_path, "v1")
    (root / ALIAS_HISTORY_FILE).write_text(json.dumps(record) + "\n")
    with pytest.raises(RegistryError, match="corrupt at line 1"):
        history(root)


# --- concurrency -----------------------------------------------------------------------------


def _assert_consistent(root: Path, alias: str) -> None:
    """Every record continues from the one before: no change was lost or interleaved."""
    lines = _lines(root)
    assert lines, "nothing was recorded"
    previous = None
    for line in lines:
        assert line["alias"] == alias
        assert line["action"] == "promote"
        assert line["external"] is False
        assert line["previous"] == previous, lines
        previous = line["version"]
    assert resolve_alias(root, alias) == previous
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == [ALIAS_LOCK_FILE]


def test_concurrent_promotes_from_threads_keep_the_history_consistent(tmp_path: Path) -> None:
    versions = [f"v{i}" for i in range(6)]
    root = _registry(tmp_path, *versions)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def promoter(offset: int) -> None:
        try:
            start.wait()
            for round_ in range(15):
                promote(root, versions[(offset + round_) % len(versions)], "champion")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=promoter, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_consistent(root, "champion")


def _promote_many(root: str, offset: int, versions: list[str], rounds: int) -> None:
    for round_ in range(rounds):
        promote(Path(root), versions[(offset + round_) % len(versions)], "champion")


def test_concurrent_promotes_from_processes_keep_the_history_consistent(tmp_path: Path) -> None:
    versions = [f"v{i}" for i in range(5)]
    root = _registry(tmp_path, *versions)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_promote_many, args=(str(root), i, versions, 20))
                 for i in range(5)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * 5
    _assert_consistent(root, "champion")
    assert len(_lines(root)) >= 20  # at least one process's promotes all changed the link


def test_promote_waits_for_the_registry_lock(tmp_path: Path) -> None:
    root = _registry(tmp_path, "v1")
    fd = os.open(root / ALIAS_LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process promoting
        worker = threading.Thread(target=promote, args=(root, "v1", "champion"))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive()
        assert resolve_alias(root, "champion") is None
    finally:
        os.close(fd)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert resolve_alias(root, "champion") == "v1"

"""The model registry on disk: atomic versions, checksums verified on open, aliases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from model_registry import (
    CHECKSUM_FILE,
    METADATA_FILE,
    MODEL_FILE,
    CorruptModelError,
    ModelNotFoundError,
    RegistryError,
    list_versions,
    open_version,
    read_version,
    resolve_alias,
    set_alias,
    write_version,
)

MODEL_BYTES = b"CBM1\x00\x01fake catboost model bytes\xff" * 10


def writes(content: bytes = MODEL_BYTES) -> Callable[[Path], None]:
    def write_model(path: Path) -> None:
        path.write_bytes(content)

    return write_model


def _entries(root: Path) -> list[str]:
    """Everything inside ``<root>/versions``, hidden entries included."""
    versions = root / "versions"
    return sorted(p.name for p in versions.iterdir()) if versions.is_dir() else []


def _new(root: Path, version: str, **metadata: object) -> Path:
    return write_version(root, version, writes(), {"features": ["a", "b"], **metadata}).path


# --- writing -----------------------------------------------------------------------------


def test_write_version_creates_a_verifiable_version(tmp_path: Path) -> None:
    metadata = {"features": ["balance_min_30d"], "metrics": {"auc": 0.81}}
    written = write_version(tmp_path, "v1", writes(), metadata,
                            extra_files={"report/summary.json": b'{"ok": true}'})
    assert written.path == tmp_path / "versions" / "v1"
    assert written.version == "v1"
    assert written.model_file.read_bytes() == MODEL_BYTES
    assert written.metadata == {**metadata, "version": "v1"}
    assert "version" not in metadata  # the caller's dict is left alone
    assert (written.path / "report" / "summary.json").read_bytes() == b'{"ok": true}'

    opened = open_version(written.path)
    assert opened.version == "v1"
    assert opened.metadata == written.metadata
    assert json.loads((written.path / METADATA_FILE).read_text())["metrics"] == {"auc": 0.81}
    assert _entries(tmp_path) == ["v1"]  # no staging directory left behind


def test_checksum_file_is_in_sha256sum_format_and_covers_every_file(tmp_path: Path) -> None:
    path = write_version(tmp_path, "v1", writes(), {},
                         extra_files={"report.txt": b"r", "plots/roc.svg": b"<svg/>"}).path
    lines = (path / CHECKSUM_FILE).read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {str(p.relative_to(path)) for p in path.rglob("*")
             if p.is_file() and p.name != CHECKSUM_FILE}
    assert set(listed) == files == {MODEL_FILE, METADATA_FILE, "report.txt", "plots/roc.svg"}
    for name, digest in listed.items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest


def test_a_failing_write_model_leaves_no_version_and_no_staging_dir(tmp_path: Path) -> None:
    def half_written(path: Path) -> None:
        path.write_bytes(MODEL_BYTES[:7])
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_version(tmp_path, "v1", half_written, {"features": []})
    assert _entries(tmp_path) == []
    assert list_versions(tmp_path) == []
    with pytest.raises(ModelNotFoundError):
        open_version(tmp_path / "versions" / "v1")
    # the name is still free afterwards
    assert write_version(tmp_path, "v1", writes(), {}).version == "v1"


def test_an_interrupted_write_is_cleaned_up(tmp_path: Path) -> None:
    def interrupted(path: Path) -> None:
        path.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_version(tmp_path, "v2", interrupted, {})
    assert _entries(tmp_path) == []


def test_unserialisable_metadata_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_version(tmp_path, "v1", writes(), {"trained_on": object()})
    assert _entries(tmp_path) == []


def test_a_version_is_never_overwritten(tmp_path: Path) -> None:
    first = _new(tmp_path, "v1", run=1)
    with pytest.raises(RegistryError, match="already exists"):
        write_version(tmp_path, "v1", writes(b"other model"), {"run": 2})
    assert open_version(first).metadata["run"] == 1
    assert (first / MODEL_FILE).read_bytes() == MODEL_BYTES
    assert _entries(tmp_path) == ["v1"]


@pytest.mark.parametrize("version", ["", ".hidden", "..", "a/b", "../escape"])
def test_invalid_version_names_are_refused(tmp_path: Path, version: str) -> None:
    with pytest.raises(RegistryError, match="invalid version"):
        write_version(tmp_path, version, writes(), {})
    assert _entries(tmp_path) == []
    assert not (tmp_path.parent / "escape").exists()


# --- opening -----------------------------------------------------------------------------


def test_a_missing_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        open_version(tmp_path / "versions" / "nope")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ModelNotFoundError):
        open_version(tmp_path / "a-file")


def test_not_found_and_corrupt_are_registry_errors() -> None:
    assert issubclass(ModelNotFoundError, RegistryError)
    assert issubclass(CorruptModelError, RegistryError)
    assert not issubclass(CorruptModelError, ModelNotFoundError)


@pytest.mark.parametrize("name", [MODEL_FILE, METADATA_FILE, "report.txt"])
def test_a_tampered_file_is_corrupt(tmp_path: Path, name: str) -> None:
    path = write_version(tmp_path, "v1", writes(), {"features": ["a"]},
                         extra_files={"report.txt": b"AUC 0.81"}).path
    target = path / name
    content = bytearray(target.read_bytes())
    content[len(content) // 2] ^= 0x01  # one bit
    target.write_bytes(bytes(content))
    with pytest.raises(CorruptModelError, match=name.replace(".", r"\.")):
        open_version(path)


def test_tampered_metadata_that_is_still_valid_json_is_corrupt(tmp_path: Path) -> None:
    path = _new(tmp_path, "v1", threshold=0.5)
    metadata = json.loads((path / METADATA_FILE).read_text())
    metadata["threshold"] = 0.05
    (path / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    with pytest.raises(CorruptModelError):
        open_version(path)


def test_missing_checksum_file_is_corrupt(tmp_path: Path) -> None:
    path = _new(tmp_path, "v1")
    (path / CHECKSUM_FILE).unlink()
    with pytest.raises(CorruptModelError, match=CHECKSUM_FILE):
        open_version(path)


def test_a_listed_file_that_is_missing_is_corrupt(tmp_path: Path) -> None:
    path = _new(tmp_path, "v1")
    (path / MODEL_FILE).unlink()
    with pytest.raises(CorruptModelError, match="missing"):
        open_version(path)


@pytest.mark.parametrize("dropped", [MODEL_FILE, METADATA_FILE])
def test_checksums_must_cover_model_and_metadata(tmp_path: Path, dropped: str) -> None:
    path = _new(tmp_path, "v1")
    sums = path / CHECKSUM_FILE
    kept = [line for line in sums.read_text().splitlines() if not line.endswith(f"  {dropped}")]
    sums.write_text("".join(f"{line}\n" for line in kept))
    with pytest.raises(CorruptModelError, match="not covered"):
        open_version(path)


def test_a_malformed_checksum_file_is_corrupt(tmp_path: Path) -> None:
    path = _new(tmp_path, "v1")
    (path / CHECKSUM_FILE).write_text("this is not a checksum list\n")
    with pytest.raises(CorruptModelError):
        open_version(path)


def test_a_directory_that_is_not_a_model_version_is_corrupt(tmp_path: Path) -> None:
    stray = tmp_path / "versions" / "by-hand"
    stray.mkdir(parents=True)
    (stray / MODEL_FILE).write_bytes(MODEL_BYTES)
    with pytest.raises(CorruptModelError):
        open_version(stray)


def _list_extra(path: Path, name: str, content: bytes) -> None:
    """Add a SHA256SUMS entry for ``name`` whose digest is right for ``content``."""
    digest = hashlib.sha256(content).hexdigest()
    with (path / CHECKSUM_FILE).open("a") as sums:
        sums.write(f"{digest}  {name}\n")


@pytest.mark.parametrize("entry", ["../../secret.txt", "../v2/model.cbm", "report/../../x",
                                   "ABSOLUTE", "./model.cbm", "report//x"])
def test_checksum_entries_outside_the_version_directory_are_refused(
        tmp_path: Path, entry: str) -> None:
    """An entry may only name a file below its version directory: a listed ``../`` or
    absolute path would make verification read (and vouch for) any file on the host."""
    path = write_version(tmp_path / "registry", "v1", writes(), {"features": ["a"]},
                         extra_files={"report/x": b"r"}).path
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"host file")
    write_version(tmp_path / "registry", "v2", writes(), {})
    name = str(outside) if entry == "ABSOLUTE" else entry
    # the listed digest is right for what the entry designates, so only confinement refuses
    content = (path / name).resolve().read_bytes() if (path / name).exists() else b"r"
    _list_extra(path, name, content)
    with pytest.raises(CorruptModelError, match="outside its version directory"):
        open_version(path)


def test_a_listed_file_that_is_a_symlink_out_of_the_version_is_refused(tmp_path: Path) -> None:
    path = write_version(tmp_path / "registry", "v1", writes(), {},
                         extra_files={"report.txt": b"AUC 0.81"}).path
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"AUC 0.81")  # same bytes, so the digest still matches
    (path / "report.txt").unlink()
    (path / "report.txt").symlink_to(elsewhere)
    with pytest.raises(CorruptModelError, match=r"report\.txt .*symbolic links are refused"):
        open_version(path)
    (path / "report.txt").unlink()
    (path / "report.txt").write_bytes(b"AUC 0.81")
    assert open_version(path).version == "v1"


def test_a_model_file_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    path = _new(tmp_path / "registry", "v1")
    copy = tmp_path / "model-copy.cbm"
    copy.write_bytes((path / MODEL_FILE).read_bytes())
    (path / MODEL_FILE).unlink()
    (path / MODEL_FILE).symlink_to(copy)
    with pytest.raises(CorruptModelError, match="symbolic links"):
        read_version(path)


def test_read_version_returns_the_verified_model_bytes(tmp_path: Path) -> None:
    path = _new(tmp_path, "v1", run=3)
    verified = read_version(path)
    assert verified.model_bytes == MODEL_BYTES
    assert verified.version.metadata["run"] == 3
    assert verified.version.path == path
    assert "model_bytes" not in repr(verified)  # never dumps a model into a log line
    (path / MODEL_FILE).write_bytes(b"replaced afterwards")
    assert verified.model_bytes == MODEL_BYTES


# --- listing -----------------------------------------------------------------------------


def test_list_versions_is_sorted_and_ignores_staging_dirs_and_files(tmp_path: Path) -> None:
    assert list_versions(tmp_path) == []  # no registry yet
    for version in ("2026-02-01", "2026-01-15", "2026-03-09"):
        _new(tmp_path, version)
    versions = tmp_path / "versions"
    (versions / ".2026-04-01.x7k2q").mkdir()  # a write in progress (or a crashed one)
    (versions / ".2026-04-01.x7k2q" / MODEL_FILE).write_bytes(b"partial")
    (versions / "notes.txt").write_text("not a version")
    assert list_versions(tmp_path) == ["2026-01-15", "2026-02-01", "2026-03-09"]


# --- aliases -----------------------------------------------------------------------------


def test_set_alias_points_a_relative_symlink_at_the_version(tmp_path: Path) -> None:
    _new(tmp_path, "v1", run=1)
    link = set_alias(tmp_path, "champion", "v1")
    assert link == tmp_path / "champion"
    assert link.is_symlink()
    assert not link.readlink().is_absolute()  # the registry can be moved or mounted
    assert resolve_alias(tmp_path, "champion") == "v1"
    assert open_version(link).metadata["run"] == 1  # loading through the alias verifies too
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    tmp_path.rename(moved)
    try:
        assert open_version(moved / "champion").version == "v1"
    finally:
        moved.rename(tmp_path)


def test_set_alias_replaces_the_previous_target(tmp_path: Path) -> None:
    _new(tmp_path, "v1")
    _new(tmp_path, "v2")
    set_alias(tmp_path, "champion", "v1")
    set_alias(tmp_path, "challenger", "v2")
    set_alias(tmp_path, "champion", "v2")
    assert resolve_alias(tmp_path, "champion") == "v2"
    assert resolve_alias(tmp_path, "challenger") == "v2"
    assert open_version(tmp_path / "champion").version == "v2"
    set_alias(tmp_path, "champion", "v1")  # rollback
    assert resolve_alias(tmp_path, "champion") == "v1"


def test_resolve_alias_of_an_unset_alias_is_none(tmp_path: Path) -> None:
    assert resolve_alias(tmp_path, "champion") is None
    (tmp_path / "plain-dir").mkdir()
    assert resolve_alias(tmp_path, "plain-dir") is None


def test_an_alias_is_never_pointed_at_a_corrupt_version(tmp_path: Path) -> None:
    good = _new(tmp_path, "v1")
    bad = _new(tmp_path, "v2")
    set_alias(tmp_path, "champion", "v1")
    (bad / MODEL_FILE).write_bytes(b"tampered")
    with pytest.raises(CorruptModelError):
        set_alias(tmp_path, "champion", "v2")
    assert resolve_alias(tmp_path, "champion") == "v1"
    assert open_version(tmp_path / "champion").path.resolve() == good.resolve()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_alias_is_never_pointed_at_a_missing_version(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        set_alias(tmp_path, "champion", "v9")
    assert resolve_alias(tmp_path, "champion") is None
    assert not (tmp_path / "champion").exists()


@pytest.mark.parametrize("alias", ["", "versions", ".hidden", "a/b"])
def test_invalid_alias_names_are_refused(tmp_path: Path, alias: str) -> None:
    _new(tmp_path, "v1")
    with pytest.raises(RegistryError, match="invalid alias"):
        set_alias(tmp_path, alias, "v1")
    assert (tmp_path / "versions").is_dir()
    assert not (tmp_path / "versions").is_symlink()


@pytest.mark.parametrize("version", ["../outside/versions/v1", "..", "/tmp", ".hidden"])
def test_set_alias_refuses_a_target_outside_the_registry(tmp_path: Path, version: str) -> None:
    root = tmp_path / "registry"
    _new(root, "v1")
    _new(tmp_path / "outside", "v1")  # a valid version elsewhere: only confinement refuses
    with pytest.raises(RegistryError, match="invalid version name"):
        set_alias(root, "champion", version)
    assert resolve_alias(root, "champion") is None


def test_set_alias_refuses_a_version_that_is_a_link_out_of_the_registry(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    _new(root, "v1")
    elsewhere = _new(tmp_path / "outside", "v7")
    (root / "versions" / "v7").symlink_to(elsewhere)
    with pytest.raises(RegistryError, match="symbolic link"):
        set_alias(root, "champion", "v7")
    assert resolve_alias(root, "champion") is None

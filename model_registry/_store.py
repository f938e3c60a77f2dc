"""Model versions on disk: written atomically, verified by sha256 before anything is loaded.

Layout of a registry directory::

    <root>/versions/<version>/model.cbm       CatBoost binary model
    <root>/versions/<version>/metadata.json   version, created_at, features, metrics, ...
    <root>/versions/<version>/SHA256SUMS      sha256 of every other file, ``sha256sum`` format
    <root>/<alias> -> versions/<version>      alias links (champion, challenger, ...)
    <root>/aliases.jsonl                      history of alias changes (see ``_aliases``)

A version is first written to a hidden temporary directory beside its final place and renamed
into place only when complete, so a crash never leaves a partial version that looks real; and
``open_version`` refuses any version whose files do not match their checksums.

Verification reads every file once, through a descriptor of the version directory opened once
(``openat`` with ``O_NOFOLLOW`` on every path component): a ``SHA256SUMS`` entry naming a path
outside the directory (``../``, an absolute path, a symbolic link) is refused, an alias that
moves meanwhile cannot mix two versions, and :func:`read_version` hands the caller the very
bytes it hashed, so the model loaded is the model verified (no verify-then-reopen).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ALIAS_HISTORY_FILE",
    "CHECKSUM_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "CorruptModelError",
    "ModelNotFoundError",
    "ModelVersion",
    "RegistryError",
    "VerifiedModel",
    "list_versions",
    "open_version",
    "read_version",
    "resolve_alias",
    "set_alias",
    "version_dir",
    "write_version",
]

MODEL_FILE = "model.cbm"
METADATA_FILE = "metadata.json"
CHECKSUM_FILE = "SHA256SUMS"
ALIAS_HISTORY_FILE = "aliases.jsonl"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class RegistryError(Exception):
    """Base of registry errors; messages are meant for operators."""


class ModelNotFoundError(RegistryError):
    pass


class CorruptModelError(RegistryError):
    pass


@dataclass(frozen=True)
class ModelVersion:
    path: Path
    version: str
    metadata: dict[str, Any]

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE


@dataclass(frozen=True)
class VerifiedModel:
    """A verified version and the bytes of its model file, exactly those that were hashed."""

    version: ModelVersion
    model_bytes: bytes = field(repr=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_version(
    root: Path,
    version: str,
    write_model: Callable[[Path], None],
    metadata: dict[str, Any],
    extra_files: dict[str, bytes] | None = None,
) -> ModelVersion:
    """Create ``<root>/versions/<version>`` atomically.

    ``write_model(path)`` must write the model file at ``path``; ``extra_files`` (e.g. a report)
    are written beside it and covered by the checksums too.
    """
    _checked_name(version)
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / version
    if final.exists():
        raise RegistryError(f"version {version} already exists in {root}")
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=versions))
    try:
        write_model(staging / MODEL_FILE)
        metadata = {**metadata, "version": version}
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
        for name, content in (extra_files or {}).items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        sums = "".join(f"{_sha256(p)}  {p.relative_to(staging)}\n" for p in files)
        (staging / CHECKSUM_FILE).write_text(sums)
        for path in [*files, staging / CHECKSUM_FILE]:
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        staging.chmod(0o755)
        staging.rename(final)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelVersion(final, version, metadata)


def _checked_name(version: str) -> str:
    if not version or "/" in version or version.startswith(".") or "\0" in version:
        raise RegistryError(f"invalid version name {version!r}")
    return version


def version_dir(root: Path, version: str) -> Path:
    """``<root>/versions/<version>``, refused (RegistryError) unless it is a plain name of a
    directory inside the registry: never a path, a hidden entry or a symbolic link leading
    elsewhere. The directory need not exist (``open_version`` says when it does not)."""
    path = root / "versions" / _checked_name(version)
    if path.is_symlink():
        raise RegistryError(
            f"version {version} in {root} is a symbolic link ({path}): refused, a version "
            "must be a directory inside the registry's versions/")
    return path


def _parse_sums(text: str, sums_file: Path) -> dict[str, str]:
    """``sha256sum`` lines; every name a relative path inside the version directory."""
    expected: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not _SHA256_HEX.match(digest) or not name or name in expected:
            raise CorruptModelError(f"{sums_file} is malformed at line {number}")
        parts = name.split("/")
        if name.startswith("/") or "\0" in name or any(p in ("", ".", "..") for p in parts):
            raise CorruptModelError(
                f"{sums_file} line {number} names a path outside its version directory "
                f"({name[:80]!r}): refused")
        expected[name] = digest
    return expected


def _read_at(dir_fd: int, name: str, where: Path) -> bytes:
    """Read ``name`` (a relative path) below ``dir_fd`` without following any symbolic link.

    FileNotFoundError when it is missing; CorruptModelError when a component is a link, or
    the file is not a regular file.
    """
    parts = name.split("/")
    fds: list[int] = []
    try:
        current = dir_fd
        for part in parts[:-1]:
            current = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                              dir_fd=current)
            fds.append(current)
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=current)
        fds.append(fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptModelError(f"{where}: {name} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        # ELOOP (a symbolic link), ENOTDIR (a link or file where a directory was listed)
        raise CorruptModelError(
            f"{where}: {name} cannot be read inside the version directory "
            f"({exc.strerror}); symbolic links are refused") from None
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _verified_contents(dir_fd: int, path: Path) -> dict[str, bytes]:
    """Model and metadata bytes of the version open at ``dir_fd``, after every file listed
    in its checksum file matched (each read once)."""
    sums_file = path / CHECKSUM_FILE
    try:
        sums = _read_at(dir_fd, CHECKSUM_FILE, path)
    except FileNotFoundError:
        raise CorruptModelError(
            f"{path} has no {CHECKSUM_FILE}: incomplete or not a model version") from None
    try:
        expected = _parse_sums(sums.decode("utf-8"), sums_file)
    except UnicodeDecodeError:
        raise CorruptModelError(f"{sums_file} is malformed: not UTF-8 text") from None
    for required in (MODEL_FILE, METADATA_FILE):
        if required not in expected:
            raise CorruptModelError(f"{path}: {required} is not covered by {CHECKSUM_FILE}")
    contents: dict[str, bytes] = {}
    for name, digest in expected.items():
        try:
            data = _read_at(dir_fd, name, path)
        except FileNotFoundError:
            raise CorruptModelError(f"{path}: {name} is missing") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptModelError(f"{path}: {name} does not match its sha256 checksum")
        if name in (MODEL_FILE, METADATA_FILE):
            contents[name] = data
    return contents


def read_version(path: Path) -> VerifiedModel:
    """Verify a version directory and return it with its model's verified bytes.

    Every file listed in ``SHA256SUMS`` is read once and hashed; the metadata is parsed from,
    and the model returned as, those same bytes: load the model from
    :attr:`VerifiedModel.model_bytes`, never by opening ``model_file`` again.
    """
    if not path.is_dir():
        raise ModelNotFoundError(f"no model version directory at {path}")
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise ModelNotFoundError(f"no model version directory at {path}") from None
    try:
        contents = _verified_contents(dir_fd, path)
    finally:
        os.close(dir_fd)
    try:
        metadata = json.loads(contents[METADATA_FILE])
    except ValueError:
        raise CorruptModelError(f"{path}: {METADATA_FILE} is not valid JSON") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("version"), str):
        raise CorruptModelError(f"{path}: metadata has no version")
    return VerifiedModel(ModelVersion(path, metadata["version"], metadata),
                         contents[MODEL_FILE])


def open_version(path: Path) -> ModelVersion:
    """Verify a version directory's checksums and read its metadata (see
    :func:`read_version` to load the model itself)."""
    return read_version(path).version


def list_versions(root: Path) -> list[str]:
    versions = root / "versions"
    if not versions.is_dir():
        return []
    return sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))


def set_alias(root: Path, alias: str, version: str) -> Path:
    """Point ``<root>/<alias>`` at ``versions/<version>`` atomically (a relative symlink
    replaced by rename, so a reader sees the old or the new target, never neither)."""
    if alias in ("versions", ALIAS_HISTORY_FILE, "") or "/" in alias or alias.startswith("."):
        raise RegistryError(f"invalid alias name {alias!r}")
    target = version_dir(root, version)  # a plain name of a directory inside the registry
    open_version(target)  # never point an alias at a damaged or partial version
    link = root / alias
    temporary = root / f".{alias}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path("versions") / version)
    temporary.replace(link)
    _fsync_dir(root)
    return link


def resolve_alias(root: Path, alias: str) -> str | None:
    """The version an alias points to, or None when the alias is not set."""
    link = root / alias
    if not link.is_symlink():
        return None
    return link.readlink().name

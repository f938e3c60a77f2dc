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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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
    "list_versions",
    "open_version",
    "resolve_alias",
    "set_alias",
    "write_version",
]

MODEL_FILE = "model.cbm"
METADATA_FILE = "metadata.json"
CHECKSUM_FILE = "SHA256SUMS"
ALIAS_HISTORY_FILE = "aliases.jsonl"


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
    if not version or "/" in version or version.startswith("."):
        raise RegistryError(f"invalid version name {version!r}")
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


def open_version(path: Path) -> ModelVersion:
    """Verify a version directory's checksums and read its metadata."""
    if not path.is_dir():
        raise ModelNotFoundError(f"no model version directory at {path}")
    sums_file = path / CHECKSUM_FILE
    if not sums_file.exists():
        raise CorruptModelError(f"{path} has no {CHECKSUM_FILE}: incomplete or not a model version")
    expected: dict[str, str] = {}
    for line in sums_file.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if not digest or not name:
            raise CorruptModelError(f"{sums_file} is malformed")
        expected[name] = digest
    for required in (MODEL_FILE, METADATA_FILE):
        if required not in expected:
            raise CorruptModelError(f"{path}: {required} is not covered by {CHECKSUM_FILE}")
    for name, digest in expected.items():
        file = path / name
        if not file.is_file():
            raise CorruptModelError(f"{path}: {name} is missing")
        if _sha256(file) != digest:
            raise CorruptModelError(f"{path}: {name} does not match its sha256 checksum")
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
    except ValueError:
        raise CorruptModelError(f"{path}: {METADATA_FILE} is not valid JSON") from None
    version = metadata.get("version")
    if not isinstance(version, str):
        raise CorruptModelError(f"{path}: metadata has no version")
    return ModelVersion(path, version, metadata)


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
    target = root / "versions" / version
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

"""``predelinq registry``: list and show model versions, promote one, roll an alias back.

A version is promoted only when its checksums verify and it was trained on the feature list
the running feature code computes (the worker would refuse it otherwise); every promote and
rollback is recorded in the registry's alias history (``aliases.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_registry import (
    METADATA_FILE,
    ModelVersion,
    RegistryError,
    aliases,
    list_versions,
    open_version,
    promote,
    rollback,
    validation_auc,
)

from .main import CliError

__all__ = ["Compatibility", "compatibility", "run"]


@dataclass(frozen=True)
class Compatibility:
    """How a version's recorded features relate to the running feature code."""

    label: str  # ok | code-changed | NO
    loadable: bool  # the feature list matches: the worker would load it
    detail: str

    @property
    def line(self) -> str:
        return f"{self.label} ({self.detail})"


def _few(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _feature_difference(model: object, code: Sequence[str]) -> str:
    """What differs between the model's feature list and the code's, in a few words."""
    if not isinstance(model, list) or not all(isinstance(name, str) for name in model):
        return "its metadata has no feature list"
    parts = []
    missing = [name for name in code if name not in set(model)]
    extra = [name for name in model if name not in set(code)]
    if missing:
        parts.append(f"missing from the model: {_few(missing)}")
    if extra:
        parts.append(f"not computed by the running code: {_few(extra)}")
    if parts:
        return "; ".join(parts)
    for column, (ours, theirs) in enumerate(zip(model, code, strict=False)):
        if ours != theirs:
            return (f"same features in another order, first at column {column}: "
                    f"model {ours!r}, code {theirs!r}")
    return f"the model lists {len(model)} columns, the code computes {len(code)}"


def compatibility(metadata: dict[str, Any]) -> Compatibility:
    from stream_app.features import FEATURE_CODE_SHA256, FEATURE_NAMES

    names = metadata.get("feature_names")
    if names != list(FEATURE_NAMES):
        return Compatibility("NO", False, _feature_difference(names, FEATURE_NAMES))
    if metadata.get("feature_code_sha256") != FEATURE_CODE_SHA256:
        return Compatibility("code-changed", True,
                             "same feature list, but the feature code changed since training")
    return Compatibility("ok", True, "trained with the running feature code")


def _require_compatible(version: ModelVersion) -> None:
    verdict = compatibility(version.metadata)
    if not verdict.loadable:
        raise RegistryError(
            f"model {version.version} was trained on another feature list than the running "
            f"feature code computes ({verdict.detail}); retrain it with this code")


def _registry_dir(args: argparse.Namespace) -> Path:
    if args.registry:
        root = Path(args.registry)
    else:
        from stream_app.settings import load_settings

        root = Path(load_settings().model_registry_dir)
    if not root.is_dir():
        raise CliError(f"no model registry at {root} (set MODEL_REGISTRY_DIR or pass --registry)")
    return root


def _version_dir(root: Path, version: str) -> Path:
    if not version or "/" in version or version.startswith(".") or "\0" in version:
        raise CliError(f"invalid version name {version!r}")
    path = root / "versions" / version
    if not path.is_dir():
        raise CliError(f"no version {version} in {root} (see `predelinq registry list`)")
    return path


def _validation_auc(metadata: dict[str, Any]) -> str:
    value = validation_auc(metadata)
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _aliases_of(links: dict[str, str], version: str) -> list[str]:
    return [alias for alias, target in links.items() if target == version]


# --- actions ---------------------------------------------------------------------------------


def _list(root: Path) -> int:
    links = aliases(root)
    versions = list_versions(root)
    header = ("VERSION", "CREATED", "VAL ROC-AUC", "FEATURES", "CHECKSUM", "ALIASES")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for version in versions:
        pointing = ",".join(_aliases_of(links, version)) or "-"
        try:
            metadata = open_version(root / "versions" / version).metadata
        except RegistryError as exc:
            rows.append((version, "-", "-", "-", "CORRUPT", pointing))
            notes.append(f"{version}: {exc}")
            continue
        created = metadata.get("created_at")
        rows.append((version, created if isinstance(created, str) else "-",
                     _validation_auc(metadata), compatibility(metadata).label, "OK", pointing))
    for alias, target in links.items():
        if target not in versions:
            notes.append(f"alias {alias} points at {target}, which is not in the registry")
    if not rows:
        print(f"no model versions in {root}")
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                  .rstrip())
    for note in notes:
        print(f"! {note}")
    return 0


def _show(root: Path, version: str) -> int:
    path = _version_dir(root, version)
    pointing = ", ".join(_aliases_of(aliases(root), version)) or "-"
    print(f"version:   {version}")
    print(f"path:      {path}")
    print(f"aliases:   {pointing}")
    try:
        metadata = open_version(path).metadata
    except RegistryError as exc:
        print("checksum:  CORRUPT")
        try:  # shown to help diagnose, but nothing here is trusted
            unverified = json.loads((path / METADATA_FILE).read_text())
        except (OSError, ValueError):
            pass
        else:
            print("metadata (UNVERIFIED):")
            print(json.dumps(unverified, indent=2, sort_keys=True))
        raise CliError(f"version {version} is corrupt: {exc}") from None
    print("checksum:  OK")
    print(f"features:  {compatibility(metadata).line}")
    print("metadata:")
    print(json.dumps(metadata, indent=2, sort_keys=True))
    return 0


def _promote(root: Path, version: str, alias: str) -> int:
    _version_dir(root, version)
    try:
        change = promote(root, version, alias, check=_require_compatible)
    except RegistryError as exc:
        raise CliError(f"refusing to promote {version}: {exc}") from None
    if change is None:
        print(f"{alias} already points at {version}; nothing changed")
        return 0
    verdict = compatibility(open_version(root / "versions" / version).metadata)
    if verdict.label != "ok":
        print(f"predelinq registry: warning: {version}: {verdict.detail}", file=sys.stderr)
    print(f"{alias} -> {version} (was {change.previous or 'unset'})")
    return 0


def _rollback(root: Path, alias: str) -> int:
    change = rollback(root, alias, check=_require_compatible)  # its errors say what and why
    print(f"{alias} -> {change.version} (rolled back from {change.previous})")
    return 0


def run(args: argparse.Namespace) -> int:
    root = _registry_dir(args)
    try:
        if args.action == "list":
            return _list(root)
        if args.action == "show":
            return _show(root, args.version)
        if args.action == "promote":
            return _promote(root, args.version, args.alias)
        if args.action == "rollback":
            return _rollback(root, args.alias)
    except RegistryError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:  # permissions, a full disk, a read-only registry
        raise CliError(f"{exc.strerror or exc}: {exc.filename or root}") from None
    raise CliError(f"unknown action {args.action!r}", code=2)

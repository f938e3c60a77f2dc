"""``predelinq explain-decision ID``: reproduce an intervention from its decision bundle.

Reads the intervention's row from the audit trail, loads the model version named in it from
the registry, scores the stored feature vector again and compares score, band and reasons
(codes, contributions and values within 1e-9) with what was decided. Exit status: 0 MATCH,
1 MISMATCH, 2 when the decision cannot be checked (bad or unknown id, no bundle, another
feature list, missing or damaged model version, database unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_registry import RegistryError
from stream_app.settings import Settings, load_settings

from .main import CliError, database_dsn

TOLERANCE = 1e-9
_CANNOT_CHECK = 2
_QUERY = """
SELECT model_version, policy_version, score, band, reasons, features, feature_names_sha256
FROM interventions WHERE intervention_id = $1"""


@dataclass(frozen=True)
class _Reason:
    code: str
    value: float | None
    contribution: float | None


@dataclass(frozen=True)
class _Decision:
    score: int
    band: str
    reasons: tuple[_Reason, ...]


def _stored_reasons(raw: Any) -> tuple[_Reason, ...]:
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
        return tuple(_Reason(str(r["code"]), r.get("value"), r.get("contribution"))
                     for r in items)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CliError("the stored reasons are not readable", code=_CANNOT_CHECK) from None


async def _fetch(dsn: str, intervention_id: uuid.UUID) -> Any:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise CliError(f"cannot reach PostgreSQL: {type(exc).__name__}",
                       code=_CANNOT_CHECK) from None
    try:
        return await conn.fetchrow(_QUERY, intervention_id)
    finally:
        await conn.close()


def _load_row(settings: Settings, intervention_id: uuid.UUID) -> Any:
    dsn = database_dsn(settings, code=_CANNOT_CHECK)
    import asyncpg

    try:
        return asyncio.run(_fetch(dsn, intervention_id))
    except (asyncpg.UndefinedColumnError, asyncpg.UndefinedTableError):
        raise CliError("the database lacks the audit trail's migrations: run "
                       "`predelinq migrate`", code=_CANNOT_CHECK) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # the class only: messages of connection errors may name the server or the role
        raise CliError(f"PostgreSQL refused: {type(exc).__name__}", code=_CANNOT_CHECK) from None


def _model(registry: Path, version: str) -> Any:
    from stream_app.scoring import ScoringModel

    if not version or "/" in version or version.startswith("."):
        raise CliError("the stored model version is not a registry version name",
                       code=_CANNOT_CHECK)
    try:
        model = ScoringModel.load(registry / "versions" / version)
    except RegistryError as exc:
        raise CliError(f"cannot load model version {version}: {exc}",
                       code=_CANNOT_CHECK) from None
    if model.version != version:
        raise CliError(f"{registry / 'versions' / version} holds model version "
                       f"{model.version}", code=_CANNOT_CHECK)
    return model


def _bands(settings: Settings, policy_version: str) -> tuple[Any, str]:
    """The band cut-offs of the decision's policy when it is the configured one, else the
    defaults (noted in the output)."""
    from stream_app.policy import PolicyFileError, load_policy
    from stream_app.scoring import DEFAULT_BANDS

    try:
        policy = load_policy(settings.policy_path)
    except PolicyFileError:
        return DEFAULT_BANDS, "default cut-offs (the configured policy file is unreadable)"
    if policy.version == policy_version:
        return policy.band_cutoffs, f"policy {policy.version}"
    return DEFAULT_BANDS, f"default cut-offs (policy {policy_version} is not the configured one)"


def _recompute(model: Any, features: list[float], bands: Any) -> _Decision:
    matrix = np.asarray([features], dtype=np.float64)
    scored = model.score(matrix)
    score = int(scored.scores[0])
    reasons = model.reasons(scored, matrix)[0]
    return _Decision(score, bands.band(score),
                     tuple(_Reason(r.code, r.value, r.contribution) for r in reasons))


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TOLERANCE


def _differences(stored: _Decision, again: _Decision) -> list[str]:
    found = []
    if stored.score != again.score:
        found.append(f"score: stored {stored.score}, recomputed {again.score}")
    if stored.band != again.band:
        found.append(f"band: stored {stored.band}, recomputed {again.band}")
    codes = [r.code for r in stored.reasons], [r.code for r in again.reasons]
    if codes[0] != codes[1]:
        found.append(f"reason codes: stored {', '.join(codes[0]) or '-'}, "
                     f"recomputed {', '.join(codes[1]) or '-'}")
        return found
    for i, (a, b) in enumerate(zip(stored.reasons, again.reasons, strict=True), start=1):
        for name in ("contribution", "value"):
            if not _close(getattr(a, name), getattr(b, name)):
                found.append(f"reason {i} ({a.code}) {name}: stored {getattr(a, name)!r}, "
                             f"recomputed {getattr(b, name)!r}")
    return found


def _reason_text(reason: _Reason | None) -> str:
    if reason is None:
        return "-"
    contribution = "?" if reason.contribution is None else f"{reason.contribution:+.9f}"
    return f"{reason.code} {contribution}"


def _print_table(stored: _Decision, again: _Decision) -> None:
    rows = [("score", str(stored.score), str(again.score)),
            ("band", stored.band, again.band)]
    for i in range(max(len(stored.reasons), len(again.reasons))):
        a = stored.reasons[i] if i < len(stored.reasons) else None
        b = again.reasons[i] if i < len(again.reasons) else None
        rows.append((f"reason {i + 1}", _reason_text(a), _reason_text(b)))
    print(f"{'':<10}  {'stored':<34}  recomputed")
    for label, a_text, b_text in rows:
        print(f"{label:<10}  {a_text:<34}  {b_text}")


def run(args: argparse.Namespace) -> int:
    try:
        intervention_id = uuid.UUID(args.intervention_id)
    except ValueError:
        raise CliError("INTERVENTION_ID must be a UUID", code=_CANNOT_CHECK) from None
    settings = load_settings()
    row = _load_row(settings, intervention_id)
    if row is None:
        raise CliError(f"no intervention {intervention_id} in the audit trail",
                       code=_CANNOT_CHECK)
    from stream_app.features import FEATURE_NAMES

    features = list(row["features"] or [])
    if not features:
        raise CliError(f"intervention {intervention_id} has no decision bundle (recorded "
                       "before intervention schema revision 2)", code=_CANNOT_CHECK)
    names_sha256 = hashlib.sha256(",".join(FEATURE_NAMES).encode()).hexdigest()
    if row["feature_names_sha256"] != names_sha256 or len(features) != len(FEATURE_NAMES):
        raise CliError("the feature code changed since this decision (its feature names "
                       "hash differs from this code's): the bundle cannot be scored with "
                       "this version of predelinq", code=_CANNOT_CHECK)
    registry = Path(args.registry or settings.model_registry_dir)
    model = _model(registry, row["model_version"])
    bands, bands_source = _bands(settings, row["policy_version"])
    stored = _Decision(int(row["score"]), str(row["band"]), _stored_reasons(row["reasons"]))
    again = _recompute(model, features, bands)
    print(f"intervention {intervention_id}")
    print(f"model        {model.version} ({model.path})")
    print(f"bands        {bands_source}")
    _print_table(stored, again)
    differences = _differences(stored, again)
    if differences:
        print("MISMATCH")
        for difference in differences:
            print(f"  {difference}")
        return 1
    print("MATCH")
    return 0

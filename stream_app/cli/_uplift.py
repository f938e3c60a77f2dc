"""``predelinq uplift``: treatment vs control share of customers reaching 30+ DPD within 60
days of an intervention decision, per action and overall, from the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from stream_app.settings import load_settings

from .main import CliError, database_dsn

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9000, 1, 1, tzinfo=UTC)


def _moment(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"not an ISO date or time: {text!r}", code=2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} pp"


def format_table(report: dict[str, Any]) -> str:
    header = ("group", "treated", "t 30+DPD", "t share", "control", "c 30+DPD", "c share",
              "uplift", "95% CI")
    lines = [header]
    for g in report["groups"]:
        t, c = g["treatment"], g["control"]
        ci = ("-" if g["ci_low"] is None
              else f"[{_signed(g['ci_low'])}, {_signed(g['ci_high'])}]")
        lines.append((g["group"], str(t["customers"]), str(t["reached"]), _percent(t["rate"]),
                      str(c["customers"]), str(c["reached"]), _percent(c["rate"]),
                      _signed(g["uplift"]), ci))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
           for row in lines]
    excluded = ", ".join(f"{k} {v}" for k, v in report["excluded"].items())
    out += ["", f"uplift = control share - treatment share reaching {report['dpd_threshold']}+ "
                f"DPD within {report['horizon_days']} days (positive: the intervention helps)",
            f"interval: {report['method']}", f"customers left out: {excluded}"]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from stream_app.uplift import METHOD, subjects, uplift_report

    settings = load_settings()
    dsn = database_dsn(settings)
    since = _moment(args.since, _EPOCH)
    until = _moment(args.until, _FAR)
    if until <= since:
        raise CliError("--until must be after --since", code=2)
    import asyncpg

    from stream_app.uplift._audit import read_inputs

    try:
        inputs = asyncio.run(read_inputs(dsn, since, until,
                                         horizon_days=args.horizon_days,
                                         dpd_threshold=args.dpd_threshold))
    except (OSError, TimeoutError) as exc:
        raise CliError(f"cannot reach PostgreSQL: {type(exc).__name__}", code=2) from None
    except (asyncpg.UndefinedColumnError, asyncpg.UndefinedTableError):
        raise CliError("the database lacks the audit trail's migrations: run "
                       "`predelinq migrate`", code=2) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CliError(f"PostgreSQL refused: {type(exc).__name__}", code=2) from None
    members, excluded = subjects(inputs.decisions, inputs.reached,
                                 horizon_days=args.horizon_days,
                                 dpd_threshold=args.dpd_threshold,
                                 observed_until=inputs.observed_until)
    report = {
        "since": since.isoformat() if args.since else None,
        "until": until.isoformat() if args.until else None,
        "horizon_days": args.horizon_days,
        "dpd_threshold": args.dpd_threshold,
        "method": METHOD,
        "groups": [row.to_json() for row in uplift_report(members)],
        "excluded": excluded,
    }
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0

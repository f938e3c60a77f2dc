"""``predelinq sink``: the audit sink (risk scores and interventions into PostgreSQL)."""

from __future__ import annotations

import argparse
import asyncio

from stream_app.observability import configure_logging, redaction_level
from stream_app.settings import load_settings

from .main import CliError, database_dsn

#: exit status when the database has pending migrations (as ``predelinq migrate --check``)
PENDING_MIGRATIONS_EXIT = 3


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    database_dsn(settings)
    configure_logging(settings.log_format, settings.log_level,
                      redact_from=redaction_level(settings))
    from stream_app.sink import PendingMigrationsError, SinkStartupError, run_until_signalled

    try:
        asyncio.run(run_until_signalled(settings))
    except PendingMigrationsError as exc:
        raise CliError(str(exc), code=PENDING_MIGRATIONS_EXIT) from None
    except SinkStartupError as exc:
        raise CliError(str(exc)) from None
    return 0

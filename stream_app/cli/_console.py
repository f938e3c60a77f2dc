"""``predelinq console``: the read-only web console over the audit trail and the registry,
in its own process (aiohttp), never on a worker's event loop."""

from __future__ import annotations

import argparse
import logging

from stream_app.observability import configure_logging, redaction_level
from stream_app.settings import load_settings

from .main import CliError, database_dsn

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    database_dsn(settings)
    configure_logging(settings.log_format, settings.log_level,
                      redact_from=redaction_level(settings))
    from aiohttp import web

    from stream_app.console import ConsoleConfig, build_app

    config = ConsoleConfig.from_settings(settings, window_days=args.days)
    if not config.keys and config.require_key:
        raise CliError("set API_KEY or API_KEYS: the console's password is an API key", code=2)
    print(f"predelinq console on http://{args.host}:{args.port}/ "
          "(user name: any, password: an API key)")
    web.run_app(build_app(config), host=args.host, port=args.port, print=None,
                access_log=None)
    return 0

"""``predelinq redrive``: re-publish dead letters of the given reasons to their input topic."""

from __future__ import annotations

import argparse
import asyncio

from stream_app.settings import load_settings

from .main import CliError


def run(args: argparse.Namespace) -> int:
    from stream_app.kafka import redrive_dead_letters

    if not args.reason:
        raise CliError("name the dead-letter reasons to re-publish with --reason (e.g. "
                       "--reason wrong_partition), once the producer is fixed", code=2)
    settings = load_settings()
    report = asyncio.run(redrive_dead_letters(settings, frozenset(args.reason),
                                              dry_run=args.dry_run))
    verb = "would re-publish" if args.dry_run else "re-published"
    sent = ", ".join(f"{reason} {n}" for reason, n in sorted(report.sent.items())) or "none"
    print(f"{verb}: {sent}; left: {sum(report.skipped.values())} of other reasons, "
          f"{report.without_value} without their raw value")
    return 0

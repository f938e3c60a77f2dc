"""``predelinq topics``: create missing topics and check co-partitioning."""

from __future__ import annotations

import argparse
import asyncio

from stream_app.settings import load_settings

from .main import CliError


def run(args: argparse.Namespace) -> int:
    overrides = {}
    if args.bootstrap_servers:
        overrides["kafka_bootstrap_servers"] = args.bootstrap_servers
    settings = load_settings(**overrides)
    from stream_app.kafka import TopicLayoutError, ensure_topics

    try:
        created = asyncio.run(ensure_topics(settings))
    except TopicLayoutError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        raise CliError(f"Kafka at {settings.kafka_bootstrap_servers} failed: "
                       f"{type(exc).__name__}: {exc}") from None
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0

"""``predelinq simulate``: synthetic events to a JSON Lines log, Avro files or Kafka."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._progress import progress_bar
from .main import CliError


def _start_ms(text: str) -> int:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--start must be a date YYYY-MM-DD, got {text!r}", code=2) from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _outcomes(args: argparse.Namespace) -> int:
    """``--outcomes-for INTERVENTIONS --out FILE``: the CRM's outcome events for the contacts
    among published interventions (JSON Lines in, JSON Lines of InterventionOutcome out)."""
    import orjson

    from stream_app.offline import write_jsonl_log
    from stream_app.simulate import outcome_events

    if not args.out:
        raise CliError("--outcomes-for writes JSON Lines: give --out FILE", code=2)
    interventions = []
    try:
        with Path(args.outcomes_for).open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = orjson.loads(line)
                if not isinstance(record, dict) or not {"intervention_id", "customer_id",
                                                        "created_at"} <= set(record):
                    raise CliError(f"{args.outcomes_for}:{number}: not an Intervention record",
                                   code=2)
                interventions.append(record)
    except OSError as exc:
        raise CliError(f"cannot read {args.outcomes_for}: {exc.strerror}", code=2) from None
    except orjson.JSONDecodeError:
        raise CliError(f"{args.outcomes_for} is not JSON Lines", code=2) from None
    count = write_jsonl_log(Path(args.out), outcome_events(interventions, seed=args.seed))
    print(f"wrote {count} outcome events for {len(interventions)} interventions to {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    from stream_app.offline import Point, write_avro_log, write_jsonl_log, write_points
    from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth

    if args.outcomes_for:
        return _outcomes(args)
    if args.customers < 1 or args.days < 1:
        raise CliError("--customers and --days must be at least 1", code=2)
    if not 0.0 <= args.treatment_effect <= 1.0:
        raise CliError("--treatment-effect must be between 0 and 1", code=2)
    config = SimulationConfig(customers=args.customers, days=args.days, seed=args.seed,
                              start_ms=_start_ms(args.start), scenario=args.scenario,
                              treatment_effect=args.treatment_effect)
    if args.summary:
        from stream_app.simulate import render_figures, simulation_figures

        print(render_figures(simulation_figures(config)), end="")
        return 0
    simulator = BankSimulator(config)
    total_days = config.days

    def events() -> Iterator[dict[str, Any]]:
        with progress_bar("simulating days", total_days) as bar:
            for day, day_events in simulator.days():
                yield from day_events
                bar.update(day + 1)

    if args.out:
        count = write_jsonl_log(Path(args.out), events())
        print(f"wrote {count} events to {args.out}")
    elif args.avro_dir:
        from stream_app.events import RecordType

        directory = Path(args.avro_dir)
        directory.mkdir(parents=True, exist_ok=True)
        transactions: list[dict[str, Any]] = []
        payments: list[dict[str, Any]] = []
        for record in events():
            (transactions if record["type"] == "transaction" else payments).append(record)
        with (directory / "transactions.avro").open("wb") as handle:
            write_avro_log(handle, RecordType.TRANSACTION, transactions)
        with (directory / "payments.avro").open("wb") as handle:
            write_avro_log(handle, RecordType.PAYMENT, payments)
        print(f"wrote {len(transactions)} transactions and {len(payments)} payments "
              f"to {directory}")
    else:
        from stream_app.kafka import publish_events
        from stream_app.settings import load_settings

        overrides = {}
        if args.bootstrap_servers:
            overrides["kafka_bootstrap_servers"] = args.bootstrap_servers
        settings = load_settings(**overrides)
        try:
            count = asyncio.run(publish_events(settings, events(), rate=args.rate))
        except Exception as exc:
            raise CliError(f"publishing to {settings.kafka_bootstrap_servers} failed: "
                           f"{type(exc).__name__}: {exc}") from None
        print(f"published {count} events to {settings.kafka_bootstrap_servers}")
    if args.labels:
        labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
        write_points(Path(args.labels),
                     (Point(label.customer_id, label.as_of, label.label) for label in labels))
        print(f"wrote {len(labels)} labels to {args.labels}")
        if not labels:
            print("note: a label needs 60 days of history and a 90-day outcome window; "
                  "simulate at least 151 days to get labels")
    return 0

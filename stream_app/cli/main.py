"""``predelinq`` command line: one sub-command per job.

Expected failures (bad configuration, bad input files, an unusable model, an unreachable
service) print one clear message to stderr and exit non-zero; tracebacks are for bugs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream_app.settings import Settings

__all__ = ["CliError", "main"]


class CliError(Exception):
    """An expected failure with a message for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def database_dsn(settings: Settings, code: int = 2) -> str:
    """The audit trail's DSN of a command that needs one, else a CliError (exit ``code``)."""
    if settings.database_url is None:
        raise CliError("DATABASE_URL is not set", code=code)
    return settings.database_url.get_secret_value()


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("worker", help="run the Faust worker and its HTTP sidecar")
    parser.set_defaults(handler=_lazy("stream_app.cli._worker", "run"))


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("simulate", help="generate a synthetic bank's events")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-01-01", help="first simulated day (UTC)")
    parser.add_argument("--scenario", default="reference", choices=("reference", "hard"),
                        help="how strong, early and noisy the stress signals are "
                             "(docs/simulator.md)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="write a JSON Lines event log to this file")
    target.add_argument("--avro-dir", help="write Avro container files (one per topic) here")
    target.add_argument("--kafka", action="store_true",
                        help="publish to the input topics (KAFKA_BOOTSTRAP_SERVERS)")
    target.add_argument("--summary", action="store_true",
                        help="print the run's figures (event mix, outcomes by stress kind, "
                             "signals before the miss and their noise) as Markdown")
    parser.add_argument("--bootstrap-servers", help="override KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--labels", help="also write ground-truth labels CSV here")
    parser.add_argument("--rate", type=float, help="events per second when publishing")
    parser.add_argument("--treatment-effect", type=float, default=0.0,
                        help="true effect: probability that a TREATMENT-arm customer who "
                             "misses a payment is cured before 30 DPD (default 0)")
    parser.add_argument("--outcomes-for", metavar="INTERVENTIONS",
                        help="instead of events: the CRM's outcome events for the contacts "
                             "among these interventions (JSON Lines) to --out")
    parser.set_defaults(handler=_lazy("stream_app.cli._simulate", "run"))


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("train", help="train a model and add it to the registry")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=int, metavar="N",
                        help="train on N freshly simulated customers")
    source.add_argument("--events", help="JSON Lines event log (with --labels)")
    parser.add_argument("--labels", help="CSV customer_id,as_of,label")
    parser.add_argument("--days", type=int, default=300, help="simulated days (--simulate)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario", default="reference", choices=("reference", "hard"),
                        help="simulator scenario (--simulate)")
    parser.add_argument("--target", default="dpd30", choices=("dpd30", "first_miss"),
                        help="simulated label: reaching 30 days past due within 90 days "
                             "(default) or any missed payment within 90 days (--simulate)")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--registry", help="registry directory (default MODEL_REGISTRY_DIR)")
    parser.add_argument("--no-promote", action="store_true",
                        help="do not point the champion alias at the new version")
    parser.set_defaults(handler=_lazy("stream_app.cli._train", "run"))


def _add_retrain(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("retrain", help="train a candidate on an event archive and promote "
                                            "it only if it passes the gate against the champion")
    parser.add_argument("--events", required=True,
                        help="event archive: JSON Lines, an Avro container file (.avro) or a "
                             "directory of them, with the DELINQUENCY_STATUS events")
    parser.add_argument("--registry", help="registry directory (default MODEL_REGISTRY_DIR)")
    parser.add_argument("--gate-share", type=float, default=0.3,
                        help="latest share of labelled as-of dates kept out of training for "
                             "the gate (default 0.3)")
    parser.add_argument("--auc-tolerance", type=float, default=0.01,
                        help="promote if candidate AUC >= champion AUC - this (default 0.01)")
    parser.add_argument("--capture-tolerance", type=float, default=0.02,
                        help="... and candidate capture while current >= champion's - this "
                             "(default 0.02)")
    parser.add_argument("--min-auc", type=float, default=0.6,
                        help="without a champion: promote if candidate AUC >= this "
                             "(default 0.6)")
    parser.add_argument("--threshold", type=int,
                        help="score at which capture is measured (default "
                             "AUTO_TRIGGER_THRESHOLD)")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="directory for gate.json and gate.md (default "
                                      "<registry>/gate-reports/<version>)")
    parser.set_defaults(handler=_lazy("stream_app.cli._retrain", "run"))


def _add_replay(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("replay", help="point-in-time features from an event log")
    parser.add_argument("--events", required=True,
                        help="event log: JSON Lines, or an Avro container file (.avro)")
    points = parser.add_mutually_exclusive_group(required=True)
    points.add_argument("--labels", help="CSV customer_id,as_of[,label]: a row per line")
    points.add_argument("--every-event", action="store_true",
                        help="a row per applied event and per absence deadline, as the "
                             "worker scores them")
    parser.add_argument("--out", required=True, help="CSV to write")
    parser.set_defaults(handler=_lazy("stream_app.cli._replay", "run"))


def _add_evaluate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("evaluate", help="evaluate a model and write a report")
    parser.add_argument("--model", help="model version directory or alias link "
                                        "(default MODEL_PATH)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=int, metavar="N",
                        help="evaluate on N freshly simulated customers")
    source.add_argument("--events", help="event log (with --labels)")
    parser.add_argument("--labels", help="CSV customer_id,as_of,label")
    parser.add_argument("--days", type=int, default=300, help="simulated days (--simulate)")
    parser.add_argument("--seed", type=int, default=101, help="simulation seed (--simulate)")
    parser.add_argument("--scenario", default="reference", choices=("reference", "hard"),
                        help="simulator scenario (--simulate)")
    parser.add_argument("--threshold", type=int,
                        help="the operating point reported beside the HIGH band (default "
                             "AUTO_TRIGGER_THRESHOLD)")
    parser.add_argument("--warmup-days", type=int, default=90,
                        help="days of history before capture and false alarms are counted")
    parser.add_argument("--out", required=True, help="directory for report.md and plots")
    parser.set_defaults(handler=_lazy("stream_app.cli._evaluate", "run"))


def _add_registry(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("registry", help="list, show, promote and roll back models")
    parser.add_argument("--registry", help="registry directory (default MODEL_REGISTRY_DIR)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="versions and the aliases pointing at them")
    show = actions.add_parser("show", help="metadata of one version")
    show.add_argument("version")
    promote = actions.add_parser("promote", help="point an alias at a version")
    promote.add_argument("version")
    promote.add_argument("--alias", default="champion", choices=("champion", "challenger"))
    rollback = actions.add_parser("rollback", help="point an alias back at its previous version")
    rollback.add_argument("--alias", default="champion", choices=("champion", "challenger"))
    parser.set_defaults(handler=_lazy("stream_app.cli._registry", "run"))


def _add_score_log(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("score-log", help="score customers at given times from an event log")
    parser.add_argument("--events", required=True, help="event log (JSON Lines or Avro)")
    parser.add_argument("--at", required=True, help="CSV customer_id,as_of")
    parser.add_argument("--out", required=True, help="CSV to write")
    parser.add_argument("--model", help="model version directory (default MODEL_PATH)")
    parser.set_defaults(handler=_lazy("stream_app.cli._score_log", "run"))


def _add_sink(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sink", help="write risk scores and interventions to PostgreSQL "
                                          "(the audit trail)")
    parser.set_defaults(handler=_lazy("stream_app.cli._sink", "run"))


def _add_console(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("console", help="read-only web console over the audit trail and "
                                             "the model registry (its own process)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--days", type=int, default=30,
                        help="days of the portfolio page's default window")
    parser.set_defaults(handler=_lazy("stream_app.cli._console", "run"))


def _add_redrive(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("redrive", help="re-publish dead letters to their input topic "
                                            "(after the producer is fixed)")
    parser.add_argument("--reason", action="append", default=[],
                        help="dead-letter reason to re-publish (repeatable), e.g. "
                             "wrong_partition")
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    parser.set_defaults(handler=_lazy("stream_app.cli._redrive", "run"))


def _add_explain_decision(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("explain-decision",
                            help="reproduce an intervention's score from its decision bundle")
    parser.add_argument("intervention_id")
    parser.add_argument("--registry", help="registry directory (default MODEL_REGISTRY_DIR)")
    parser.set_defaults(handler=_lazy("stream_app.cli._explain", "run"))


def _add_uplift(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("uplift", help="treatment vs control: share reaching 30+ DPD within "
                                           "60 days of a decision, per action (DATABASE_URL)")
    parser.add_argument("--since", help="decisions created at or after (ISO date or time, UTC)")
    parser.add_argument("--until", help="decisions created before (ISO date or time, UTC)")
    parser.add_argument("--horizon-days", type=int, default=60)
    parser.add_argument("--dpd-threshold", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.set_defaults(handler=_lazy("stream_app.cli._uplift", "run"))


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("migrate", help="apply pending SQL migrations (DATABASE_URL)")
    parser.add_argument("--check", action="store_true",
                        help="only report pending migrations; exit 3 if any")
    parser.set_defaults(handler=_lazy("stream_app.cli._migrate", "run"))


def _add_topics(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topics", help="create missing topics and check partitioning")
    parser.add_argument("--bootstrap-servers", help="override KAFKA_BOOTSTRAP_SERVERS")
    parser.set_defaults(handler=_lazy("stream_app.cli._topics", "run"))


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="everything on one machine: broker, model, worker, "
                                          "traffic and a live view")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds to run (default 120; Ctrl-C stops earlier)")
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--rate", type=float, default=3000.0, help="events per second")
    parser.add_argument("--threshold", type=int, default=None,
                        help="intervention threshold (default: AUTO_TRIGGER_THRESHOLD if set, "
                             "else 60 so that HIGH and CRITICAL scores act)")
    parser.add_argument("--bootstrap-servers",
                        help="use this broker instead of starting the embedded one")
    parser.add_argument("--workdir", default="var/demo", help="model and state directory")
    parser.add_argument("--plain", action="store_true",
                        help="print summaries instead of the live terminal view")
    parser.add_argument("--database-url",
                        help="audit trail in this PostgreSQL instead of an embedded one")
    parser.add_argument("--no-database", action="store_true",
                        help="no audit trail (no PostgreSQL, sink or console)")
    parser.set_defaults(handler=_lazy("stream_app.cli._demo", "run"))


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Every argument goes to bench/compare.py as given: no option is parsed here ("+" is no
    # option prefix of the benchmark's), and --help is the benchmark's own.
    parser = sub.add_parser("bench", add_help=False, prefix_chars="+",
                            help="compare the worker with the ceiling and a naive Faust agent "
                                 "on a local Apache Kafka (from a checkout; --help for options)")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=_lazy("stream_app.cli._bench", "run"))


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """Import a command's module only when it runs (keeps `predelinq --help` fast)."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        function: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), name)
        return function(args)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="predelinq",
        description="Real-time pre-delinquency intervention engine. Configuration comes from "
                    "environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_worker, _add_demo, _add_simulate, _add_train, _add_retrain,
                _add_evaluate,
                _add_registry, _add_replay, _add_score_log, _add_sink, _add_console, _add_redrive,
                _add_explain_decision, _add_uplift,
                _add_migrate, _add_topics, _add_bench):
        add(sub)
    return parser


def _setup_logging() -> None:
    """WARNING and above on stderr, in the LOG_FORMAT (text when the settings do not load: the
    command reports why). The worker's logging is set up by Faust; the sink sets its level."""
    from stream_app.observability import configure_logging
    from stream_app.settings import ConfigurationError, LogFormat, load_settings

    try:
        log_format = load_settings().log_format
    except ConfigurationError:
        log_format = LogFormat.TEXT
    configure_logging(log_format, logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    from stream_app.settings import ConfigurationError

    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers and args.command not in ("worker",):
        _setup_logging()
    try:
        code: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"predelinq: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"predelinq {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

"""``predelinq replay``: point-in-time feature vectors from an event log, as CSV."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._progress import progress_bar
from .main import CliError


def read_event_log(path: Path) -> Iterator[dict[str, Any]]:
    """JSON Lines; an Avro container file (``.avro``); or a directory of Avro container files
    (one per topic, as ``simulate --avro-dir`` writes them), merged by event time."""
    import heapq

    from stream_app.offline import read_avro_log, read_jsonl_log

    if path.is_dir():
        files = sorted(path.glob("*.avro"))
        if not files:
            raise FileNotFoundError(2, "no .avro files", str(path))
        return heapq.merge(*(read_avro_log(f) for f in files),
                           key=lambda record: record["occurred_at"])
    if path.suffix == ".avro":
        return read_avro_log(path)
    return read_jsonl_log(path)


def run(args: argparse.Namespace) -> int:
    from stream_app.features import FEATURE_NAMES
    from stream_app.offline import (
        EventLogError,
        LabelFileError,
        ReplayStats,
        UnknownCustomersError,
        read_points,
        replay_events,
        replay_points,
    )

    path = Path(args.events)
    stats = ReplayStats()
    rows = 0
    try:
        with progress_bar("events replayed", None) as bar, \
                Path(args.out).open("w", newline="") as out:
            writer = csv.writer(out)

            def records() -> Iterator[dict[str, Any]]:
                for count, record in enumerate(read_event_log(path), 1):
                    if count % 20_000 == 0:
                        bar.update(count)
                    yield record

            if args.every_event:
                writer.writerow(["customer_id", "trigger", "as_of", *FEATURE_NAMES])
                for row in replay_events(records(), stats):
                    writer.writerow([row.customer_id, row.trigger, row.as_of,
                                     *(repr(v) for v in row.vector)])
                    rows += 1
            else:
                points = read_points(Path(args.labels), require_label=False)
                writer.writerow(["customer_id", "as_of", "label", *FEATURE_NAMES])
                for point, vector in sorted(replay_points(records(), points, stats),
                                            key=lambda item: (item[0].customer_id,
                                                              item[0].as_of)):
                    label = "" if point.label is None else point.label
                    writer.writerow([point.customer_id, point.as_of, label,
                                     *(repr(v) for v in vector)])
                    rows += 1
            bar.update(stats.events)
    except (EventLogError, LabelFileError, UnknownCustomersError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    print(f"wrote {rows} rows to {args.out} ({stats.events} events read, {stats.invalid} "
          f"invalid, {stats.duplicates} duplicates, {stats.too_late} too late)")
    return 0

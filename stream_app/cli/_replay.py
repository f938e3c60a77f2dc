"""``predelinq replay``: point-in-time feature vectors at each (customer_id, as_of)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from .main import CliError


def run(args: argparse.Namespace) -> int:
    from stream_app.features import FEATURE_NAMES
    from stream_app.offline import (
        EventLogError,
        LabelFileError,
        ReplayStats,
        UnknownCustomersError,
        read_jsonl_log,
        read_points,
        replay_points,
    )

    stats = ReplayStats()
    try:
        points = read_points(Path(args.labels), require_label=False)
        rows = list(replay_points(read_jsonl_log(Path(args.events)), points, stats))
    except (EventLogError, LabelFileError, UnknownCustomersError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    rows.sort(key=lambda item: (item[0].customer_id, item[0].as_of))
    with Path(args.out).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "as_of", "label", *FEATURE_NAMES])
        for point, vector in rows:
            label = "" if point.label is None else point.label
            writer.writerow([point.customer_id, point.as_of, label, *(repr(v) for v in vector)])
    print(f"wrote {len(rows)} rows to {args.out} ({stats.events} events read, "
          f"{stats.invalid} invalid, {stats.duplicates} duplicates)")
    return 0

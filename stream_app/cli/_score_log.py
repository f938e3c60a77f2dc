"""``predelinq score-log``: score customers at given times from an event log (batch scoring).

One output row per ``customer_id,as_of`` row of ``--at``: features point-in-time at ``as_of``
by replay (the worker's feature code), scored in batches of ``BATCH_SIZE`` with the model at
``--model`` or ``MODEL_PATH``.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import progress_bar
from ._replay import read_event_log
from .main import CliError

# a column added at the end keeps readers of the older columns working
COLUMNS = ["customer_id", "as_of", "probability", "score", "band", "reasons", "track"]


def run(args: argparse.Namespace) -> int:
    from model_registry import RegistryError
    from stream_app.offline import (
        EventLogError,
        LabelFileError,
        ReplayStats,
        UnknownCustomersError,
        read_points,
        replay_points,
    )
    from stream_app.scoring import DEFAULT_BANDS, ScoringModel
    from stream_app.settings import load_settings

    settings = load_settings()
    model_path = args.model or settings.model_path
    try:
        model = ScoringModel.load(model_path)
    except RegistryError as exc:
        raise CliError(f"cannot load the model at {model_path}: {exc}") from None
    stats = ReplayStats()
    written = 0
    try:
        points = read_points(Path(args.at), require_label=False)
        results: dict[tuple[str, int], list[Any]] = {}
        with progress_bar("customers scored", len(points)) as bar:

            def flush(batch: list[tuple[Any, list[float]]]) -> None:
                matrix = np.asarray([vector for _, vector in batch], dtype=np.float64)
                scored = model.score(matrix)
                reasons = model.reasons(scored, matrix)
                tracks = scored.tracks
                for i, (point, _) in enumerate(batch):
                    score = int(scored.scores[i])
                    results[(point.customer_id, point.as_of)] = [
                        point.customer_id, point.as_of, repr(float(scored.probabilities[i])),
                        score, DEFAULT_BANDS.band(score), ";".join(r.code for r in reasons[i]),
                        tracks[i]]
                bar.update(len(results))

            batch: list[tuple[Any, list[float]]] = []
            rows: Iterator[tuple[Any, list[float]]] = replay_points(
                read_event_log(Path(args.events)), points, stats)
            for item in rows:
                batch.append(item)
                if len(batch) >= settings.batch_size:
                    flush(batch)
                    batch = []
            if batch:
                flush(batch)
        with Path(args.out).open("w", newline="") as out:  # in the order of --at
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for point in points:
                writer.writerow(results[(point.customer_id, point.as_of)])
                written += 1
    except (EventLogError, LabelFileError, UnknownCustomersError) as exc:
        raise CliError(str(exc)) from None
    except FileNotFoundError as exc:
        raise CliError(f"file not found: {exc.filename}") from None
    print(f"scored {written} rows with model {model.version} into {args.out} "
          f"({stats.events} events read, {stats.invalid} invalid)")
    return 0

"""One consumed batch: its rows per table, the records skipped, and the offsets to commit."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._rows import InterventionRow, OutcomeRow, RowDecoder, RowError, ScoreRow

__all__ = ["INTERVENTIONS", "OUTCOMES", "SCORES", "TABLES", "Batch", "Table", "build_batch"]

log = logging.getLogger(__name__)

Table = Literal["risk_scores", "interventions", "intervention_outcomes"]
SCORES: Table = "risk_scores"
INTERVENTIONS: Table = "interventions"
OUTCOMES: Table = "intervention_outcomes"
TABLES: tuple[Table, ...] = (SCORES, INTERVENTIONS, OUTCOMES)


@dataclass
class Batch:
    scores: list[ScoreRow] = field(default_factory=list)
    interventions: list[InterventionRow] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    # (table, reason) -> records that could not become rows (skipped, never retried)
    skipped: Counter[tuple[Table, str]] = field(default_factory=Counter)
    # TopicPartition -> the next offset to consume, to commit after the database commit
    offsets: dict[Any, int] = field(default_factory=dict)
    records: int = 0

    @property
    def rows(self) -> int:
        return len(self.scores) + len(self.interventions) + len(self.outcomes)

    def rows_of(self, table: Table) -> list[Any]:
        by_table: dict[Table, list[Any]] = {SCORES: self.scores,
                                            INTERVENTIONS: self.interventions,
                                            OUTCOMES: self.outcomes}
        return by_table[table]


def build_batch(
    records: Mapping[Any, Iterable[Any]],
    tables: Mapping[str, Table],
    decoder: RowDecoder,
) -> Batch:
    """``records`` is what ``AIOKafkaConsumer.getmany`` returned (TopicPartition -> records);
    ``tables`` maps each consumed topic to the table it feeds."""
    batch = Batch()
    for tp, messages in records.items():
        table = tables[tp.topic]
        for message in messages:
            batch.records += 1
            batch.offsets[tp] = max(batch.offsets.get(tp, 0), message.offset + 1)
            try:
                if table == SCORES:
                    batch.scores.append(decoder.score_row(message.value))
                elif table == INTERVENTIONS:
                    batch.interventions.append(decoder.intervention_row(message.value))
                else:
                    batch.outcomes.append(decoder.outcome_row(message.value))
            except RowError as exc:
                batch.skipped[(table, exc.reason)] += 1
                # topic, partition and offset locate the record; the message names fields only
                log.error("skipping undecodable record %s[%d]@%d (%s): %s",
                          tp.topic, tp.partition, message.offset, exc.reason, exc)
    return batch

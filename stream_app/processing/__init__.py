"""Micro-batch processing shared by the Faust worker and tools (no Kafka here)."""

from ._ids import DEVELOPMENT_OUTPUT_ID_KEY, intervention_id, output_id, score_event_id
from ._processor import (
    DEFAULT_MAX_DEADLINES_PER_BATCH,
    DEFAULT_MAX_EVENT_SKEW_SECONDS,
    MAX_DEAD_LETTER_BYTES,
    TIMER_TOPIC,
    BatchProcessor,
    BatchResult,
    InputRecord,
    OutputRecord,
    OutputTopics,
    Placement,
    StateStore,
    vector_sha256,
)

__all__ = [
    "DEFAULT_MAX_DEADLINES_PER_BATCH",
    "DEFAULT_MAX_EVENT_SKEW_SECONDS",
    "DEVELOPMENT_OUTPUT_ID_KEY",
    "MAX_DEAD_LETTER_BYTES",
    "TIMER_TOPIC",
    "BatchProcessor",
    "BatchResult",
    "InputRecord",
    "OutputRecord",
    "OutputTopics",
    "Placement",
    "StateStore",
    "intervention_id",
    "output_id",
    "score_event_id",
    "vector_sha256",
]

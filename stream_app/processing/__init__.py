"""Micro-batch processing shared by the Faust worker and tools (no Kafka here)."""

from ._processor import (
    MAX_DEAD_LETTER_BYTES,
    TIMER_TOPIC,
    BatchProcessor,
    BatchResult,
    InputRecord,
    OutputRecord,
    OutputTopics,
    Placement,
    StateStore,
    intervention_id,
    score_event_id,
    vector_sha256,
)

__all__ = [
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
    "score_event_id",
    "vector_sha256",
]

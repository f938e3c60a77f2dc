"""Micro-batch processing shared by the Faust worker and tools (no Kafka here)."""

from ._processor import (
    TIMER_TOPIC,
    BatchProcessor,
    BatchResult,
    InputRecord,
    OutputRecord,
    OutputTopics,
    StateStore,
    intervention_id,
    score_event_id,
)

__all__ = [
    "TIMER_TOPIC",
    "BatchProcessor",
    "BatchResult",
    "InputRecord",
    "OutputRecord",
    "OutputTopics",
    "StateStore",
    "intervention_id",
    "score_event_id",
]

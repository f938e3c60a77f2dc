"""Offline work on event logs: reading/writing logs and point-in-time replay."""

from ._logs import (
    LOG_TYPES,
    EventLogError,
    read_avro_log,
    read_jsonl_log,
    to_event,
    write_avro_log,
    write_jsonl_log,
)
from ._points import LabelFileError, Point, read_points, write_points
from ._replay import (
    AsOf,
    ReplayRow,
    ReplayStats,
    UnknownCustomersError,
    replay_events,
    replay_points,
)

__all__ = [
    "LOG_TYPES",
    "AsOf",
    "EventLogError",
    "LabelFileError",
    "Point",
    "ReplayRow",
    "ReplayStats",
    "UnknownCustomersError",
    "read_avro_log",
    "read_jsonl_log",
    "read_points",
    "replay_events",
    "replay_points",
    "to_event",
    "write_avro_log",
    "write_jsonl_log",
    "write_points",
]

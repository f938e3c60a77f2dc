"""What a failed end-to-end comparison with the replay needs to be understood: how a
customer's state in the stream (its changelog records) parts from the offline replay's.

A risk event carries only the hash of its feature vector, and the stream's intermediate
vectors legitimately differ from the replay's (the two input topics interleave differently),
so the first differing risk event says little. The changelog says what was applied: the
de-duplication memory lists the event ids each state holds, so a lost event, a counted-twice
event or a restored state older than the one before it shows by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream_app.features import CustomerState, apply_event
from stream_app.features._update import event_key
from stream_app.offline._logs import to_event

__all__ = ["state_report"]

_SOURCES = ("transactions", "payments")


def state_report(records: Iterable[dict[str, Any]], customer: str,
                 changelog: list[tuple[int, int, bytes]]) -> str:
    """``changelog``: the customer's state-table records as (offset, timestamp ms, value),
    in offset order. Returns a few lines for an assertion message."""
    mine = [r for r in records if r.get("customer_id") == customer]
    names: dict[int, str] = {}
    replay = CustomerState()
    for record in mine:
        event = to_event(record)
        names[event_key(event)] = record["event_id"]
        apply_event(replay, event)
    if not changelog:
        return f"{customer}: no state in the changelog"
    order = {r["event_id"]: i for i, r in enumerate(mine)}
    lines = [f"{customer}: {len(changelog)} changelog states, {len(mine)} events"]
    newest_seen = -1
    for offset, timestamp, value in changelog:
        state = CustomerState.from_bytes(value)
        applied = [order.get(names.get(k, ""), -1) for source in state.ids for k in source]
        newest = max(applied, default=-1)
        if newest < newest_seen:
            lines.append(f"  state at changelog offset {offset} (written at {timestamp}) is "
                         f"older than the one before it: newest event #{newest} after "
                         f"#{newest_seen}")
        newest_seen = max(newest_seen, newest)
    final = CustomerState.from_bytes(changelog[-1][2])
    for index, source in enumerate(_SOURCES):
        stream_ids = [names.get(k, f"?{k:x}") for k in final.ids[index]]
        replay_ids = [names.get(k, f"?{k:x}") for k in replay.ids[index]]
        if stream_ids != replay_ids:
            only_stream = [i for i in stream_ids if i not in replay_ids]
            only_replay = [i for i in replay_ids if i not in stream_ids]
            lines.append(f"  {source}: last ids differ; only in the stream {only_stream[:8]}, "
                         f"only in the replay {only_replay[:8]}")
    if final.watermarks != replay.watermarks:
        lines.append(f"  watermarks: stream {final.watermarks}, replay {replay.watermarks}")
    for week in sorted(set(final.weeks) | set(replay.weeks)):
        ours, theirs = final.weeks.get(week) or [], replay.weeks.get(week) or []
        columns = [c for c in range(max(len(ours), len(theirs)))
                   if ours[c:c + 1] != theirs[c:c + 1]]
        if columns:
            lines.append(f"  week {week}: columns {columns} differ (stream "
                         f"{[ours[c:c + 1] for c in columns]}, replay "
                         f"{[theirs[c:c + 1] for c in columns]})")
    if final == replay:
        lines.append("  the changelog's last state equals the replay's (the risk event "
                     "differs, not the state)")
    return "\n".join(lines)

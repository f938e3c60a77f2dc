"""``python -m tests.support.late_resume worker``: the worker with faust's table recovery
waiting ``PREDELINQ_TEST_RESUME_DELAY_SECONDS`` (default 0.3) between its seek of the active
changelog partitions and the resume of their fetching. Fault injection for the crash tests:
it widens the window in which a fetch still waiting from the previous generation could take
the changelog records read after the seek while every partition is paused (the takeover that
restored nothing, ``stream_app/worker/_fetch.py``); a slow event loop opens the same window.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from faust.tables.recovery import Recovery

_DELAY = float(os.environ.get("PREDELINQ_TEST_RESUME_DELAY_SECONDS", "0.3"))
_seek_offsets = Recovery._seek_offsets


async def _seek_then_wait(self: Any, consumer: Any, tps: Any, offsets: Any,
                          title: str) -> None:
    await _seek_offsets(self, consumer, tps, offsets, title)
    if title == "active":
        await asyncio.sleep(_DELAY)


Recovery._seek_offsets = _seek_then_wait  # type: ignore[method-assign]  # fault injection

if __name__ == "__main__":
    from stream_app.cli.main import main

    sys.exit(main())

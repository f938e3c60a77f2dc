"""The demo's simulated traffic never lies in the future (the worker would dead-letter it)."""

from __future__ import annotations

from stream_app.cli._demo import demo_start_ms
from stream_app.simulate import DAY_MS, DEFAULT_START_MS


def test_the_usual_start_is_kept_while_the_period_ends_before_today() -> None:
    now = DEFAULT_START_MS + 400 * DAY_MS
    assert demo_start_ms(180, now_ms=now) == DEFAULT_START_MS


def test_a_period_that_would_reach_past_today_starts_earlier_and_ends_by_today() -> None:
    now = DEFAULT_START_MS + 100 * DAY_MS + 5 * 3_600_000  # 05:00 on day 100
    start = demo_start_ms(180, now_ms=now)
    assert start % DAY_MS == 0
    assert start + 180 * DAY_MS <= now
    assert start + 181 * DAY_MS > now  # not earlier than it needs to be

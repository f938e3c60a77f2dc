"""Inline SVG charts drawn on the server (no script): stacked bars per day and lines per
day. Pure functions from figures to markup; every text is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["PALETTE", "line_chart", "stacked_bars"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
_W, _H = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 150, 10, 30


def _legend(names: Sequence[str]) -> str:
    items = []
    for i, name in enumerate(names[:12]):
        y = _TOP + 14 * i
        items.append(f'<rect x="{_W - _RIGHT + 10}" y="{y}" width="10" height="10" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{_W - _RIGHT + 24}" y="{y + 9}" font-size="11">'
                     f'{escape(name)}</text>')
    return "".join(items)


def _axes(days: Sequence[str], top: float, label: str) -> str:
    plot_h = _H - _TOP - _BOTTOM
    parts = [f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{_W - _RIGHT}" y2="{_H - _BOTTOM}" '
             'stroke="#888"/>',
             f'<text x="4" y="{_TOP + 10}" font-size="10">{escape(label)}</text>']
    for fraction in (0.0, 0.5, 1.0):
        y = _H - _BOTTOM - plot_h * fraction
        value = top * fraction
        text = f"{value:.0f}" if top >= 10 else f"{value:.2f}"
        parts.append(f'<text x="{_LEFT - 4}" y="{y + 3:.1f}" font-size="10" '
                     f'text-anchor="end">{text}</text>')
    if days:
        step = max(1, len(days) // 6)
        width = (_W - _LEFT - _RIGHT) / len(days)
        for i in range(0, len(days), step):
            x = _LEFT + width * (i + 0.5)
            parts.append(f'<text x="{x:.1f}" y="{_H - _BOTTOM + 14}" font-size="10" '
                         f'text-anchor="middle">{escape(days[i][5:])}</text>')
    return "".join(parts)


def stacked_bars(title: str, days: Sequence[str],
                 values: Mapping[str, Mapping[str, int]], *, chart_id: str) -> str:
    """One bar per day, stacked by series (``values[day][series]``)."""
    names = sorted({name for day in values.values() for name in day})
    totals = [sum(values.get(d, {}).values()) for d in days]
    top = max([*totals, 1])
    plot_h = _H - _TOP - _BOTTOM
    width = (_W - _LEFT - _RIGHT) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y: float = _H - _BOTTOM
        for k, name in enumerate(names):
            n = values.get(day, {}).get(name, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(f'<rect x="{_LEFT + width * i + 1:.1f}" y="{y:.1f}" '
                        f'width="{max(width - 2, 1):.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(day)} '
                        f'{escape(name)}: {n}</title></rect>')
    return (f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {_W} {_H}" '
            f'width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(title)}</title>{_axes(days, top, "count")}{"".join(bars)}'
            f'{_legend(names)}</svg>')


def line_chart(title: str, days: Sequence[str], series: Mapping[str, Sequence[float | None]],
               *, chart_id: str, label: str = "") -> str:
    """One line per series over the days (``None``: no point that day)."""
    names = list(series)
    finite = [v for values in series.values() for v in values if v is not None]
    top = max([*finite, 1e-9]) * 1.1
    plot_h = _H - _TOP - _BOTTOM
    width = (_W - _LEFT - _RIGHT) / max(len(days), 1)
    lines = []
    for k, name in enumerate(names):
        points = [f"{_LEFT + width * (i + 0.5):.1f},{_H - _BOTTOM - plot_h * v / top:.1f}"
                  for i, v in enumerate(series[name]) if v is not None]
        if points:
            lines.append(f'<polyline fill="none" stroke-width="2" '
                         f'stroke="{PALETTE[k % len(PALETTE)]}" points="{" ".join(points)}">'
                         f'<title>{escape(name)}</title></polyline>')
    return (f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {_W} {_H}" '
            f'width="{_W}" height="{_H}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(title)}</title>{_axes(days, top, label)}{"".join(lines)}'
            f'{_legend(names)}</svg>')

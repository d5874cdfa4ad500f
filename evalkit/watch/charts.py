"""Small self-contained SVG charts: lines with interval bands, interval dots, a light grid.

Written here rather than drawn by a plotting library so the static report makes no external
request (no JavaScript, no fonts fetched) and the dashboard shows the very same charts. Every
text that reaches the SVG (series names, cells) is XML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
LIGHTS = {"green": "#2e9e44", "yellow": "#e0a800", "red": "#d62728", "insufficient": "#9e9e9e"}


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _fmt(v: float, percent: bool) -> str:
    return f"{v:.0%}" if percent else f"{v:.3g}"


def time_series(
    series: Mapping[str, Sequence[tuple[datetime, float, float, float]]],
    *,
    title: str,
    percent: bool = True,
    markers: Sequence[tuple[datetime, str]] = (),
    threshold: float | None = None,
    width: int = 640,
    height: int = 220,
) -> str:
    """Lines of (time, value, low, high) per series, interval bands, release markers, and a
    dashed threshold line."""
    left, right, top, bottom = 48, 130, 24, 28
    points = [p for pts in series.values() for p in pts if math.isfinite(p[1])]
    if not points:
        return _empty(title, width, height)
    times = [p[0].timestamp() for p in points] + [m[0].timestamp() for m in markers]
    t0, t1 = min(times), max(times)
    lows = [p[2] for p in points if math.isfinite(p[2])] + [p[1] for p in points]
    highs = [p[3] for p in points if math.isfinite(p[3])] + [p[1] for p in points]
    if threshold is not None:
        highs.append(threshold)
    y0, y1 = min(0.0, min(lows)), max(highs) * 1.05 or 1.0
    x = _scale(t0, t1, left, width - right)
    y = _scale(y0, y1, height - bottom, top)
    out = [_head(title, width, height)]
    for frac in (0, 0.5, 1):
        v = y0 + frac * (y1 - y0)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#ddd"/><text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'font-size="10">{_fmt(v, percent)}</text>'
        )
    if threshold is not None:
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="#d62728" stroke-dasharray="4 3"/>'
        )
    for when, label in markers:
        xm = x(when.timestamp())
        out.append(
            f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{top}" y2="{height - bottom}" '
            f'stroke="#555" stroke-dasharray="2 2"><title>{escape(label)}</title></line>'
        )
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        good = [p for p in pts if math.isfinite(p[1])]
        if not good:
            continue
        band = [p for p in good if math.isfinite(p[2]) and math.isfinite(p[3])]
        if len(band) > 1:
            upper = " ".join(f"{x(p[0].timestamp()):.1f},{y(p[3]):.1f}" for p in band)
            lower = " ".join(f"{x(p[0].timestamp()):.1f},{y(p[2]):.1f}" for p in band[::-1])
            out.append(f'<polygon points="{upper} {lower}" fill="{colour}" opacity="0.15"/>')
        line = " ".join(f"{x(p[0].timestamp()):.1f},{y(p[1]):.1f}" for p in good)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.append(
            f'<text x="{width - right + 6}" y="{top + 12 + 14 * i}" font-size="11" '
            f'fill="{colour}">{escape(name[:22])}</text>'
        )
    first, last = datetime.fromtimestamp(t0), datetime.fromtimestamp(t1)
    out.append(
        f'<text x="{left}" y="{height - 8}" font-size="10">{first:%b %d}</text>'
        f'<text x="{width - right}" y="{height - 8}" font-size="10" text-anchor="end">'
        f"{last:%b %d}</text></svg>"
    )
    return "".join(out)


def intervals(
    rows: Sequence[tuple[str, float, float, float, str]],
    *,
    title: str,
    percent: bool = True,
    threshold: float | None = None,
    width: int = 640,
) -> str:
    """One horizontal interval per row: (label, value, low, high, light)."""
    rows = [r for r in rows if math.isfinite(r[1])]
    height = 40 + 22 * max(len(rows), 1)
    if not rows:
        return _empty(title, width, height)
    left, right = 190, 30
    hi = max([r[3] if math.isfinite(r[3]) else r[1] for r in rows] + [threshold or 0]) * 1.05
    lo = min([0.0] + [r[2] for r in rows if math.isfinite(r[2])] + [r[1] for r in rows])
    x = _scale(lo, hi or 1.0, left, width - right)
    out = [_head(title, width, height)]
    if threshold is not None:
        out.append(
            f'<line x1="{x(threshold):.1f}" x2="{x(threshold):.1f}" y1="28" y2="{height - 8}" '
            f'stroke="#d62728" stroke-dasharray="4 3"/>'
        )
    for i, (label, value, low, high, light) in enumerate(rows):
        cy = 40 + 22 * i
        colour = LIGHTS.get(light, "#1f77b4")
        if math.isfinite(low) and math.isfinite(high):
            out.append(
                f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy}" y2="{cy}" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
        out.append(
            f'<circle cx="{x(value):.1f}" cy="{cy}" r="5" fill="{colour}"/>'
            f'<text x="{left - 8}" y="{cy + 4}" font-size="11" text-anchor="end">'
            f"{escape(label[:30])} {_fmt(value, percent)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def lights_grid(cells: Sequence[tuple[str, str, str, str]], *, title: str) -> str:
    """Traffic lights: one row per KPI (rule), one column per model; (row, column, state,
    tooltip). A row's columns are the cells its rule has."""
    rows = sorted({c[0] for c in cells})
    cols = sorted({c[1] for c in cells})
    width, height = 220 + 120 * max(len(cols), 1), 60 + 28 * max(len(rows), 1)
    if not cells:
        return _empty(title, 640, 80)
    out = [_head(title, width, height)]
    for j, col in enumerate(cols):
        out.append(f'<text x="{230 + 120 * j}" y="40" font-size="11">{escape(col[:18])}</text>')
    for i, row in enumerate(rows):
        y = 62 + 28 * i
        out.append(
            f'<text x="212" y="{y + 4}" font-size="11" text-anchor="end">{escape(row[:34])}</text>'
        )
    index = {(c[0], c[1]): c for c in cells}
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            cell = index.get((row, col))
            if cell is None:
                continue
            out.append(
                f'<circle cx="{240 + 120 * j}" cy="{62 + 28 * i}" r="9" '
                f'fill="{LIGHTS.get(cell[2], "#ccc")}"><title>{escape(cell[3])}</title></circle>'
                f'<text x="{254 + 120 * j}" y="{66 + 28 * i}" font-size="10">'
                f"{escape(cell[2])}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def _head(title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" role="img">'
        f"<title>{escape(title)}</title>"
        f'<text x="8" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
    )


def _empty(title: str, width: int, height: int) -> str:
    return (
        _head(title, width, height)
        + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12" '
        'fill="#777">no data yet</text></svg>'
    )

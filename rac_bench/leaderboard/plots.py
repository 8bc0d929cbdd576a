"""Small static SVG charts for the HTML leaderboard: one series per method, points with 95% error bars.

Written by hand so the page has no JavaScript chart library and no plotting dependency; every label goes
through html.escape.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 120, 30, 44
# Okabe-Ito: distinguishable for colour-blind readers
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442"]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    low: float | None = None  # error bar, when the value has an interval
    high: float | None = None


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high == low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _tick_format(low: float, high: float) -> str:
    """Enough decimals that neighbouring ticks differ."""
    step = (high - low) / 4 if high > low else 1.0
    return f".{max(0, 1 - math.floor(math.log10(step)))}f"


def _bounds(values: list[float], pad: float = 0.05) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def chart(
    title: str, x_label: str, y_label: str, series: dict[str, list[Point]], lines: bool = True, colors=None
) -> str:
    """An SVG chart of named series; `lines` joins each series' points in x order (False: a scatter)."""
    points = [p for ps in series.values() for p in ps]
    if not points:
        return ""
    xs = [p.x for p in points]
    ys = [v for p in points for v in (p.y, p.low, p.high) if v is not None]
    x0, x1 = _bounds(xs)
    y0, y1 = _bounds(ys)

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        return HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{WIDTH / 2:.0f}" y="18" text-anchor="middle" class="title">{html.escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
    ]
    x_format, y_format = _tick_format(min(xs), max(xs)), _tick_format(y0, y1)
    for x in _ticks(min(xs), max(xs)):
        parts.append(f'<text x="{sx(x):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{x:{x_format}}</text>')
    for y in _ticks(y0, y1):
        parts.append(f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:{y_format}}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{sy(y):.1f}" x2="{WIDTH - RIGHT}" y2="{sy(y):.1f}" class="grid"/>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{html.escape(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )
    for index, (name, series_points) in enumerate(series.items()):
        color = (colors or {}).get(name, PALETTE[index % len(PALETTE)])
        ordered = sorted(series_points, key=lambda p: p.x)
        group = [f'<g class="series" data-series="{html.escape(name)}" stroke="{color}" fill="{color}">']
        if lines and len(ordered) > 1:
            path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in ordered)
            group.append(f'<polyline points="{path}" fill="none" stroke-width="2"/>')
        for p in ordered:
            if p.low is not None and p.high is not None:
                group.append(
                    f'<line x1="{sx(p.x):.1f}" y1="{sy(p.low):.1f}" x2="{sx(p.x):.1f}" y2="{sy(p.high):.1f}" '
                    'stroke-width="1.5"/>'
                )
            group.append(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="3.5"/>')
        legend_y = TOP + 14 + index * 16
        group.append(f'<rect x="{WIDTH - RIGHT + 10}" y="{legend_y - 8}" width="10" height="10"/>')
        group.append(
            f'<text x="{WIDTH - RIGHT + 24}" y="{legend_y + 1}" stroke="none" fill="#222">{html.escape(name)}</text>'
        )
        group.append("</g>")
        parts.extend(group)
    parts.append("</svg>")
    return "\n".join(parts)

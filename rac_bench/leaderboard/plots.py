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


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round ticks (steps of 1, 2 or 5 times a power of ten) covering [low, high] with about `count` of them."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _tick_format(ticks: list[float]) -> str:
    """Enough decimals that neighbouring ticks differ."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return f".{max(0, -math.floor(math.log10(step)))}f"


@dataclass(frozen=True)
class Frame:
    """The data ranges shown and their mapping to the SVG's pixels."""

    x0: float
    x1: float
    y0: float
    y1: float

    @classmethod
    def around(cls, points: list[Point], y_range: tuple[float, float] | None = None) -> Frame:
        xs = [p.x for p in points]
        ys = [v for p in points for v in (p.y, p.low, p.high) if v is not None]
        x0, x1 = _padded(min(xs), max(xs))
        y0, y1 = y_range if y_range is not None else _padded(min(ys), max(ys))
        return cls(x0, x1, y0, y1)

    def sx(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def sy(self, y: float) -> float:
        return HEIGHT - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def _padded(low: float, high: float, pad: float = 0.05) -> tuple[float, float]:
    if high == low:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def _axes(frame: Frame, title: str, x_label: str, y_label: str, x_names: list[str] | None = None) -> list[str]:
    """The frame, title, grid, ticks and labels; `x_names` puts names at x = 1, 2, ... instead of numeric ticks."""
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{WIDTH / 2:.0f}" y="18" text-anchor="middle" class="title">{html.escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
    ]
    x_ticks, y_ticks = nice_ticks(frame.x0, frame.x1), nice_ticks(frame.y0, frame.y1)
    x_format, y_format = _tick_format(x_ticks), _tick_format(y_ticks)
    if x_names is None:
        for x in x_ticks:
            parts.append(
                f'<text x="{frame.sx(x):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{x:{x_format}}</text>'
            )
    for x, name in enumerate(x_names or [], 1):  # slanted, so that neighbouring names do not overlap
        y = HEIGHT - BOTTOM + 12
        parts.append(
            f'<text x="{frame.sx(x):.1f}" y="{y}" text-anchor="end" transform="rotate(-45 {frame.sx(x):.1f} {y})">'
            f"{html.escape(name)}</text>"
        )
    for y in y_ticks:
        parts.append(f'<text x="{LEFT - 6}" y="{frame.sy(y) + 4:.1f}" text-anchor="end">{y:{y_format}}</text>')
        parts.append(
            f'<line x1="{LEFT}" y1="{frame.sy(y):.1f}" x2="{WIDTH - RIGHT}" y2="{frame.sy(y):.1f}" class="grid"/>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{html.escape(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )
    return parts


def _series(frame: Frame, name: str, points: list[Point], index: int, color: str, lines: bool) -> list[str]:
    """One series: its line (in x order), points with error bars, and its legend entry."""
    ordered = sorted(points, key=lambda p: p.x)
    group = [f'<g class="series" data-series="{html.escape(name)}" stroke="{color}" fill="{color}">']
    if lines and len(ordered) > 1:
        path = " ".join(f"{frame.sx(p.x):.1f},{frame.sy(p.y):.1f}" for p in ordered)
        group.append(f'<polyline points="{path}" fill="none" stroke-width="2"/>')
    for p in ordered:
        x = frame.sx(p.x)
        if p.low is not None and p.high is not None:
            group.append(
                f'<line x1="{x:.1f}" y1="{frame.sy(p.low):.1f}" x2="{x:.1f}" y2="{frame.sy(p.high):.1f}" stroke-width="1.5"/>'
            )
        group.append(f'<circle cx="{x:.1f}" cy="{frame.sy(p.y):.1f}" r="3.5"/>')
    legend_y = TOP + 14 + index * 16
    group.append(f'<rect x="{WIDTH - RIGHT + 10}" y="{legend_y - 8}" width="10" height="10"/>')
    group.append(
        f'<text x="{WIDTH - RIGHT + 24}" y="{legend_y + 1}" stroke="none" fill="#222">{html.escape(name)}</text>'
    )
    group.append("</g>")
    return group


def chart(
    title: str,
    x_label: str,
    y_label: str,
    series: dict[str, list[Point]],
    lines: bool = True,
    colors: dict[str, str] | None = None,
    y_range: tuple[float, float] | None = None,
) -> str:
    """An SVG chart of named series; `lines` joins each series' points in x order (False: a scatter).
    `y_range` fixes the y axis (accuracy: (0, 1), so that noise is never drawn as a large effect)."""
    points = [p for ps in series.values() for p in ps]
    if not points:
        return ""
    frame = Frame.around(points, y_range)
    parts = _axes(frame, title, x_label, y_label)
    for index, (name, series_points) in enumerate(series.items()):
        color = (colors or {}).get(name, PALETTE[index % len(PALETTE)])
        parts.extend(_series(frame, name, series_points, index, color, lines))
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Box:
    """A distribution: whiskers from p10 to p90, a box from p25 to p75, and the median."""

    name: str
    p10: float
    p25: float
    median: float
    p75: float
    p90: float


def box_chart(title: str, y_label: str, boxes: list[Box], colors: list[str] | None = None) -> str:
    """One box per named distribution, side by side; `colors` one per box."""
    if not boxes:
        return ""
    y0, y1 = _padded(min(b.p10 for b in boxes), max(b.p90 for b in boxes))
    frame = Frame(0.5, len(boxes) + 0.5, y0, y1)
    parts = _axes(frame, title, "", y_label, [box.name for box in boxes])
    half = 0.3 * (frame.sx(1) - frame.sx(0))
    for index, box in enumerate(boxes, 1):
        color = colors[index - 1] if colors else PALETTE[index % len(PALETTE)]
        x, top, bottom = frame.sx(index), frame.sy(box.p75), frame.sy(box.p25)
        parts += [
            f'<g class="box" data-series="{html.escape(box.name)}" stroke="{color}" fill="none" stroke-width="1.5">',
            f'<line x1="{x:.1f}" y1="{frame.sy(box.p10):.1f}" x2="{x:.1f}" y2="{frame.sy(box.p90):.1f}"/>',
            f'<rect x="{x - half:.1f}" y="{top:.1f}" width="{2 * half:.1f}" height="{max(1.0, bottom - top):.1f}" '
            f'fill="{color}" fill-opacity="0.25"/>',
            f'<line x1="{x - half:.1f}" y1="{frame.sy(box.median):.1f}" x2="{x + half:.1f}" '
            f'y2="{frame.sy(box.median):.1f}" stroke-width="2.5"/>',
            "</g>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)

"""Small static SVG charts for the HTML leaderboards: points with 95% error bars, a colour per method and a mark per
sparsity or bits level, the same on every page and chart of one render (`Styles`).

Written by hand so the pages need no JavaScript chart library and no plotting dependency. A chart scales with its
column (viewBox, width 100%); its text is sized so that it stays at least 11 px wide at a 390 px phone's width.
Titles and legends are HTML beside the SVG, so they wrap instead of being clipped; every label goes through
html.escape, and each chart carries a text alternative (`<title>` and `<desc>`) that states what it shows.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from itertools import count

WIDTH, HEIGHT = 400, 250
LEFT, RIGHT, TOP, BOTTOM = 54, 26, 12, 46
FONT = 13  # px in the viewBox; at 366 px of screen (a 390 px phone) that is 11.9 px
# Okabe-Ito, distinguishable for colour-blind readers, with its orange and sky blue darkened (and GPTQ on Paul Tol's
# indigo, away from the darker sky blue) so that every mark has at least 3:1 contrast with the chart's white
# (WCAG 1.4.11): fixed for the built-in methods, so that a method keeps its colour whatever else is on the page; other
# methods take Paul Tol's muted colours in name order, those below 3:1 darkened or left out
METHOD_COLORS = {
    "dense": "#000000",
    "magnitude": "#B07300",
    "wanda": "#1F78B4",
    "sparsegpt": "#009E73",
    "rac": "#D55E00",
    "rac-wanda": "#CC79A7",
    "gptq": "#332288",
    "rtn": "#882255",
}
EXTRA_COLORS = ["#2E8B7E", "#AA4499", "#117733", "#999933", "#661100", "#8A7A1F", "#3F6FA0"]
MARKS = ["circle", "square", "triangle", "diamond", "triangle-down", "plus", "cross"]


@dataclass(frozen=True)
class Styles:
    """The colour of each series (a method as written, without its quantization options) and the mark of each
    level (sparsity and bits), decided once per render so that every page and chart agrees."""

    colors: dict[str, str]
    marks: dict[str, str]

    @classmethod
    def of(cls, series: set[str], levels: list[str]) -> Styles:
        others = (name for name in sorted(series) if name not in METHOD_COLORS)
        colors = {**METHOD_COLORS, **{name: EXTRA_COLORS[i % len(EXTRA_COLORS)] for i, name in zip(count(), others)}}
        return cls(colors, {level: MARKS[i % len(MARKS)] for i, level in enumerate(levels)})

    def color(self, series: str) -> str:
        return self.colors.get(series, "#555555")


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    low: float | None = None  # error bar, when the value has an interval
    high: float | None = None
    level: str = ""  # the mark's level ("0.5", "w4"); "" for dense


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


def _number(value: float, spec: str) -> str:
    """A tick label with a real minus sign."""
    return f"{value:{spec}}".replace("-", "\u2212")


@dataclass(frozen=True)
class Frame:
    """The data ranges shown and their mapping to the SVG's pixels."""

    x0: float
    x1: float
    y0: float
    y1: float
    height: int = HEIGHT

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
        return self.height - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (self.height - TOP - BOTTOM)


def _padded(low: float, high: float, pad: float = 0.06) -> tuple[float, float]:
    if high == low:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * pad
    return low - margin, high + margin


def _open(chart_id: str, title: str, description: str, height: int) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc"><title id="{chart_id}-title">{html.escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{html.escape(description)}</desc>'
    )


def _x_label(height: int, label: str) -> str:
    return (
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{height - 6}" text-anchor="middle">{html.escape(label)}</text>'
    )


def _x_tick_label(frame: Frame, x: float, spec: str) -> str:
    y = frame.height - BOTTOM + FONT + 4
    return f'<text x="{frame.sx(x):.1f}" y="{y}" text-anchor="middle">{_number(x, spec)}</text>'


def _axes(frame: Frame, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
    """The frame, grid, ticks and axis labels."""
    bottom = frame.height - BOTTOM
    parts = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" class="axis"/>',
    ]
    if x_ticks:
        ticks = nice_ticks(frame.x0, frame.x1)
        spec = _tick_format(ticks)
        parts += [_x_tick_label(frame, x, spec) for x in ticks]
    ticks = nice_ticks(frame.y0, frame.y1)
    spec = _tick_format(ticks)
    for y in ticks:
        parts.append(f'<text x="{LEFT - 5}" y="{frame.sy(y) + 4:.1f}" text-anchor="end">{_number(y, spec)}</text>')
        parts.append(
            f'<line x1="{LEFT}" y1="{frame.sy(y):.1f}" x2="{WIDTH - RIGHT}" y2="{frame.sy(y):.1f}" class="grid"/>'
        )
    parts.append(_x_label(frame.height, x_label))
    parts.append(
        f'<text transform="translate({FONT + 1} {(TOP + bottom) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )
    return parts


def mark(shape: str, x: float, y: float, size: float = 4.5) -> str:
    """A point's mark, centred on (x, y); its stroke and fill come from the enclosing group."""
    r = size
    if shape == "square":
        return f'<rect x="{x - r * 0.85:.1f}" y="{y - r * 0.85:.1f}" width="{1.7 * r:.1f}" height="{1.7 * r:.1f}"/>'
    if shape in ("triangle", "triangle-down", "diamond"):
        corners = {
            "triangle": [(0, -1.2), (1.1, 0.8), (-1.1, 0.8)],
            "triangle-down": [(0, 1.2), (1.1, -0.8), (-1.1, -0.8)],
            "diamond": [(0, -1.25), (1.1, 0), (0, 1.25), (-1.1, 0)],
        }[shape]
        return '<polygon points="' + " ".join(f"{x + dx * r:.1f},{y + dy * r:.1f}" for dx, dy in corners) + '"/>'
    if shape in ("plus", "cross"):
        d = r if shape == "plus" else r * 0.8
        lines = [(-d, 0, d, 0), (0, -d, 0, d)] if shape == "plus" else [(-d, -d, d, d), (-d, d, d, -d)]
        return "".join(
            f'<line x1="{x + a:.1f}" y1="{y + b:.1f}" x2="{x + c:.1f}" y2="{y + e:.1f}" stroke-width="2.2"/>'
            for a, b, c, e in lines
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"/>'


def _series(frame: Frame, name: str, points: list[Point], styles: Styles, lines: bool) -> list[str]:
    """One series: its line (in x order) and its points with error bars."""
    ordered = sorted(points, key=lambda p: p.x)
    color = styles.color(name)
    group = [f'<g class="series" data-series="{html.escape(name)}" stroke="{color}" fill="{color}">']
    if lines and len(ordered) > 1:
        path = " ".join(f"{frame.sx(p.x):.1f},{frame.sy(p.y):.1f}" for p in ordered)
        group.append(f'<polyline points="{path}" fill="none" stroke-width="2"/>')
    for p in ordered:
        x = frame.sx(p.x)
        if p.low is not None and p.high is not None:
            group.append(
                f'<line x1="{x:.1f}" y1="{frame.sy(p.low):.1f}" x2="{x:.1f}" y2="{frame.sy(p.high):.1f}" '
                'stroke-width="1.5"/>'
            )
        group.append(mark(styles.marks.get(p.level, "circle"), x, frame.sy(p.y)))
    group.append("</g>")
    return group


def _describe(series: dict[str, list[Point]], x_name: str, digits: int) -> str:
    """The text alternative: every series' points, in words."""
    parts = []
    for name, points in series.items():
        values = ", ".join(f"{p.y:.{digits}f} at {x_name} {p.x:g}" for p in sorted(points, key=lambda p: p.x))
        parts.append(f"{name}: {values}")
    return "; ".join(parts) + "."


def chart(
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    series: dict[str, list[Point]],
    styles: Styles,
    lines: bool = True,
    y_range: tuple[float, float] | None = None,
    digits: int = 3,
) -> str:
    """An SVG chart of named series; `lines` joins each series' points in x order (False: a scatter).
    `y_range` fixes the y axis (accuracy: (0, 1), so that noise is never drawn as a large effect)."""
    points = [p for ps in series.values() for p in ps]
    if not points:
        return ""
    frame = Frame.around(points, y_range)
    parts = [_open(chart_id, title, f"{y_label} against {x_label}. " + _describe(series, x_label, digits), HEIGHT)]
    parts += _axes(frame, x_label, y_label)
    for name, series_points in series.items():
        parts.extend(_series(frame, name, series_points, styles, lines))
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Box:
    """A distribution: whiskers from p10 to p90, a box from p25 to p75, and the median."""

    name: str
    series: str  # whose colour it takes
    p10: float
    p25: float
    median: float
    p75: float
    p90: float


ROW = 38  # height of one box's row: its label above, the box below
LABEL_CHARACTERS = 46  # what fits the chart's width at FONT; longer names are shortened (the title has them all)


def box_chart(chart_id: str, title: str, x_label: str, boxes: list[Box], styles: Styles) -> str:
    """One horizontal box per distribution, its name above it, so that no name is ever clipped."""
    if not boxes:
        return ""
    height = TOP + ROW * len(boxes) + BOTTOM
    x0, x1 = _padded(min(b.p10 for b in boxes), max(b.p90 for b in boxes))
    frame = Frame(x0, x1, 0.0, 1.0, height)
    description = f"{x_label}, per variant: " + "; ".join(
        f"{b.name} median {b.median:g} (p25 {b.p25:g}, p75 {b.p75:g}, p10 {b.p10:g}, p90 {b.p90:g})" for b in boxes
    )
    parts = [_open(chart_id, title, description + ".", height)]
    bottom = height - BOTTOM
    parts.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" class="axis"/>')
    ticks = nice_ticks(x0, x1)
    spec = _tick_format(ticks)
    for x in ticks:
        parts.append(f'<line x1="{frame.sx(x):.1f}" y1="{TOP}" x2="{frame.sx(x):.1f}" y2="{bottom}" class="grid"/>')
        parts.append(_x_tick_label(frame, x, spec))
    parts.append(_x_label(height, x_label))
    for index, box in enumerate(boxes):
        color = styles.color(box.series)
        top = TOP + index * ROW
        middle = top + ROW - 11
        name = box.name if len(box.name) <= LABEL_CHARACTERS else box.name[: LABEL_CHARACTERS - 1] + "…"
        left, right = frame.sx(box.p25), frame.sx(box.p75)
        parts += [
            f'<text x="6" y="{top + FONT + 1}" class="label">{html.escape(name)}</text>',
            f'<g class="box" data-series="{html.escape(box.name)}" stroke="{color}" fill="none" stroke-width="1.5">',
            f'<line x1="{frame.sx(box.p10):.1f}" y1="{middle}" x2="{frame.sx(box.p90):.1f}" y2="{middle}"/>',
            (
                f'<rect x="{left:.1f}" y="{middle - 6}" width="{max(1.0, right - left):.1f}" height="12" '
                f'fill="{color}" fill-opacity="0.25"/>'
            ),
            (
                f'<line x1="{frame.sx(box.median):.1f}" y1="{middle - 7}" x2="{frame.sx(box.median):.1f}" '
                f'y2="{middle + 7}" stroke-width="2.5"/>'
            ),
            "</g>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def legend(series: list[str], levels: list[str], styles: Styles) -> str:
    """The colours and marks a chart uses, as HTML that wraps at any width."""
    items = [
        f'<li><svg class="swatch" viewBox="0 0 14 14" aria-hidden="true"><rect x="1" y="1" width="12" height="12" '
        f'fill="{styles.color(name)}"/></svg>{html.escape(name)}</li>'
        for name in series
    ]
    items += [
        f'<li><svg class="swatch" viewBox="0 0 14 14" aria-hidden="true"><g stroke="#444" fill="#444">'
        f"{mark(styles.marks.get(level, 'circle'), 7, 7, 4.5)}</g></svg>{html.escape(level)}</li>"
        for level in levels
        if level
    ]
    return f'<ul class="legend">{"".join(items)}</ul>'

"""The HTML leaderboard's sections, and `--format html`: one self-contained page with, per model and task, the
sortable table, charts (accuracy and thinking tokens against sparsity and bits, accuracy against thinking and
latency, thinking per response), example responses and how the numbers were made. The site
(rac_bench.leaderboard.site) puts the same sections on pages of their own.

Everything shown is escaped with html.escape, model-generated text above all: a response is untrusted input.
"""

from __future__ import annotations

import html
import re
from itertools import groupby

from rac_bench.cells import Cell
from rac_bench.cost import cell_frontiers
from rac_bench.leaderboard.evaluation_settings import evaluation_settings
from rac_bench.leaderboard.page import Row, footer, page, settings_list, table_html
from rac_bench.leaderboard.plots import Box, Point, Styles, box_chart, chart, legend
from rac_bench.catalogue.builtin import quantization_bits
from rac_bench.leaderboard.rows import Column, leaderboard_rows, order_cells, shown_columns
from rac_bench.provenance import git_commit
from rac_bench.ranks import budget_group

NOTE = (
    "Bold: best among the pruned models at the same sparsity and bits (none when all tie). Brackets: 95% intervals "
    "over problems (Clopper-Pearson for shares, bootstrap otherwise); Δ and think × dense are paired with dense on "
    "the same problems. Click a header to sort, best first."
)


def slug(text: str) -> str:
    """A name that is safe in a URL fragment or a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def series_name(cell: Cell) -> str:
    """A method as written without its quantization options: `gptq:w4@traces` -> gptq@traces (bits are marks)."""
    if cell.identity.is_outside:
        return cell.identity.method
    return re.sub(r":[^@]*", "", cell.identity.method, count=1)


def level(cell: Cell) -> str:
    """The sparsity and bits a cell's mark stands for: '0.5', '2:4', 'w4', '0.5+w4'; '' for dense."""
    parts = [] if cell.identity.target_label == "-" else [cell.identity.target_label]
    bits = quantization_bits(cell)
    if bits:
        parts.append(f"w{bits}")
    return "+".join(parts)


def styles_for(cells: list[Cell]) -> Styles:
    levels = sorted({level(c) for c in cells} - {""}, key=lambda name: (name.startswith("w"), name))
    return Styles.of({series_name(c) for c in cells}, levels)


def cell_table(cells: list[Cell], table_id: str, caption: str, columns: list[Column], links=None) -> str:
    """The full table of some cells; `links(cell)` gives the hrefs of a row's entries by column key."""
    ordered = order_cells(cells)
    starts = [i == 0 or budget_group(c) != budget_group(ordered[i - 1]) for i, c in enumerate(ordered)]
    rows = [
        Row(
            entries,
            f"{table_id}-{slug(cell.identity.variant_label)}",
            ("dense" if cell.identity.is_dense else "pruned") + (" budget-start" if start else ""),
            links(cell) if links else None,
        )
        for cell, entries, start in zip(ordered, leaderboard_rows(cells, columns), starts)
    ]
    return table_html(table_id, caption, columns, rows)


def _point(x: float, estimate, cell: Cell) -> Point:
    return Point(x, estimate.value, estimate.low, estimate.high, level(cell))


def _figure(
    chart_id: str, title: str, svg: str, cells: list[Cell], styles: Styles, caption: str, depth: int = 4
) -> str:
    if not svg:
        return ""
    names = sorted({series_name(c) for c in cells}, key=lambda name: (name != "dense", name))
    levels = sorted({level(c) for c in cells} - {""}, key=list(styles.marks).index)
    return (
        f'<figure><h{depth} id="{chart_id}-heading">{html.escape(title)}</h{depth}>{svg}{legend(names, levels, styles)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _sparsity(cell: Cell) -> float:
    return cell.identity.sparsity  # an N:M cell's is N/M


def _series(cells: list[Cell], x, y) -> dict[str, list[Point]]:
    """Points (x(cell), y(cell) with its interval) per series, in table order."""
    found: dict[str, list[Point]] = {}
    for cell in order_cells(cells):
        found.setdefault(series_name(cell), []).append(_point(x(cell), y(cell), cell))
    return found


def _chart_figure(
    chart_id: str, title: str, axes: tuple[str, str], series, shown, styles: Styles, caption: str, depth: int,
    **options,
) -> str:
    svg = chart(chart_id, title, *axes, series, styles, **options)
    return _figure(chart_id, title, svg, shown, styles, caption, depth)


def _accuracy(cell: Cell):
    return cell.results.accuracy


def _thinking(cell: Cell):
    return cell.results.thinking_tokens


SHARE = {"y_range": (0.0, 1.0)}  # accuracy on a fixed axis, so that noise is never drawn as a large effect


def _sparsity_figures(cells: list[Cell], dense: Cell | None) -> list[tuple]:
    pruned = [c for c in cells if c.identity.sparsity > 0]
    if not pruned:
        return []
    by_accuracy, by_thinking = _series(pruned, _sparsity, _accuracy), _series(pruned, _sparsity, _thinking)
    if dense is not None:  # every curve starts from the dense model at sparsity 0
        for name in by_accuracy:
            by_accuracy[name].append(_point(0.0, dense.results.accuracy, dense))
            by_thinking[name].append(_point(0.0, dense.results.thinking_tokens, dense))
    shown = pruned + ([dense] if dense else [])
    caption = "Accuracy of each pruning method at each sparsity, from dense at 0; bars: 95% intervals."
    return [
        ("acc-sparsity", "Accuracy vs sparsity", ("sparsity", "accuracy"), by_accuracy, shown, caption, SHARE),
        (
            "think-sparsity", "Thinking tokens vs sparsity", ("sparsity", "mean thinking tokens"), by_thinking, shown,
            "Mean thinking tokens per response at each sparsity: pruned models tend to think longer.", {"digits": 1},
        ),
    ]  # fmt: skip


def _bits_figures(cells: list[Cell], dense: Cell | None) -> list[tuple]:
    quantized = [c for c in cells if quantization_bits(c)]
    if not quantized:
        return []
    series = _series(quantized, quantization_bits, _accuracy)
    caption = "Accuracy of each quantizer at each bit width; bars: 95% intervals."
    caption += f" Dense: {dense.results.accuracy.value:.3f}." if dense else ""
    return [("acc-bits", "Accuracy vs bits", ("bits per weight", "accuracy"), series, quantized, caption, SHARE)]


def charts(cells: list[Cell], styles: Styles, prefix: str, depth: int = 3) -> str:
    """The charts of one model and task under a heading of `depth`: against sparsity and bits where there are such
    variants, then every variant's accuracy against its thinking, its thinking per response, and its accuracy
    against latency."""
    dense = next((c for c in cells if c.identity.is_dense), None)
    scatter = {**SHARE, "lines": False}
    specs = [
        *_sparsity_figures(cells, dense),
        *_bits_figures(cells, dense),
        (
            "acc-thinking", "Accuracy vs thinking", ("mean thinking tokens", "accuracy"),
            _series(cells, lambda c: c.results.thinking_tokens.value, _accuracy), cells,
            "Each variant's accuracy against its mean thinking tokens: colour is the method, mark the level.", scatter,
        ),
        (
            "acc-latency", "Accuracy vs latency", ("mean latency per request (s)", "accuracy"),
            _series(cells, lambda c: c.results.latency_seconds, _accuracy), cells,
            "Each variant's accuracy against its mean wall time per request on this run's machine.", scatter,
        ),
    ]  # fmt: skip
    figures = [
        _chart_figure(f"{prefix}-{key}", title, axes, series, shown, styles, caption, depth + 1, **options)
        for key, title, axes, series, shown, caption, options in specs
    ]
    figures.insert(len(figures) - 1, _thinking_boxes(cells, styles, prefix, depth + 1))  # before latency
    return f'<h{depth}>Charts</h{depth}><div class="charts">{"".join(figures)}</div>'


def _thinking_boxes(cells: list[Cell], styles: Styles, prefix: str, depth: int) -> str:
    boxes = [
        Box(
            c.identity.variant_label,
            series_name(c),
            *(c.results.thinking_distribution["all"][k] for k in ("p10", "p25", "median", "p75", "p90")),
        )
        for c in order_cells(cells)
    ]
    chart_id, title = f"{prefix}-think-boxes", "Thinking tokens per response"
    return _figure(
        chart_id,
        title,
        box_chart(chart_id, title, "thinking tokens", boxes, styles),
        cells,
        styles,
        "Spread of thinking tokens per response: whiskers p10-p90, box p25-p75, bar the median.",
        depth,
    )


def examples(cells: list[Cell], found: dict[str, list[dict]], depth: int = 3) -> str:
    parts = []
    for cell in order_cells(cells):
        shown = found.get(cell.key, [])
        if not shown:
            continue
        items = "".join(
            f"<p>{'correct' if s['correct'] else 'wrong'}: "
            + (
                f"extracted <code>{html.escape(str(s['extracted']))}</code>"
                if s.get("extracted") is not None
                else "no answer extracted"
            )
            + f", reference <code>{html.escape(str(s.get('reference')))}</code></p>"
            f"<pre>{html.escape(str(s.get('prompt', '')))}</pre><pre>{html.escape(str(s.get('response', '')))}</pre>"
            for s in shown
        )
        parts.append(f"<details><summary>{html.escape(cell.identity.variant_label)}</summary>{items}</details>")
    return f"<h{depth}>Example responses</h{depth}>" + "".join(parts) if parts else ""


def calibration(manifest: dict) -> str:
    """A calibration set as a reader needs it: its tokens, then every setting that made them."""
    counts = {
        "tokens in the set": f"{manifest['tokens']:,} ({manifest['prompt_tokens']:,} prompt + "
        f"{manifest['generated_tokens']:,} generated chain of thought)",
        "sequences": manifest.get("sequences"),
        "content sha256": manifest.get("content_sha256"),
    }
    settings = {"token budget" if key == "tokens" else key: value for key, value in manifest["settings"].items()}
    return settings_list({**{k: v for k, v in counts.items() if v is not None}, **settings})


def calibrations(cells: list[Cell]) -> str:
    """Each compressed variant's calibration: its source and every setting that made its tokens."""
    seen, items = set(), []
    for cell in order_cells(cells):
        manifest = (cell.pruning or {}).get("calibration")
        label = f"{cell.identity.model} {cell.identity.variant_label}"
        if manifest and label not in seen:
            seen.add(label)
            items.append(
                f"<details><summary><code>{html.escape(label)}</code></summary>{calibration(manifest)}</details>"
            )
    return f"<h3>Calibration</h3>{''.join(items)}" if items else ""


def commands_html(commands: list[str]) -> str:
    return "".join(f"<pre>{html.escape(command)}</pre>" for command in commands)


def task_section(
    cells: list[Cell], styles: Styles, prefix: str, found_examples: dict, links=None, depth: int = 3
) -> str:
    """One model and task: the table, a note on reading it, the charts and example responses (their headings at
    `depth`, one below the section's)."""
    columns = [c for c in shown_columns(cells) if c.key not in ("model", "task")]  # the heading names them
    model, task = cells[0].identity.model, cells[0].identity.task
    caption = f"{model} on {task}: {len(cells)} variants"
    return (
        cell_table(cells, prefix, caption, columns, links)
        + f'<p class="note">{html.escape(NOTE)}</p>'
        + charts(cells, styles, prefix, depth)
        + examples(cells, found_examples, depth)
    )


def render_html(cells: list[Cell], title: str, commands: list[str], found_examples: dict | None = None) -> str:
    styles = styles_for(cells)
    sections = []
    for (model, task), group in groupby(order_cells(cells), key=lambda c: (c.identity.model, c.identity.task)):
        group = list(group)
        prefix = slug(f"{model}-{task}")
        sections.append(
            f"<section><h2>{html.escape(model)} on {html.escape(task)}</h2>"
            f"{task_section(group, styles, prefix, found_examples or {})}</section>"
        )
    how_made = commands_html(commands) + evaluation_settings(cells) + calibrations(cells)
    body = "".join(sections) + f"<h2>How these numbers were made</h2>{how_made}"
    return page(title, body, footer(cells, git_commit()))


def frontier_figure(cells: list[Cell], styles: Styles, chart_id: str, depth: int = 3) -> str:
    """Accuracy against seconds per problem for one model's cells on one task, the frontier named in the caption
    (variants no other beats on both; rac_bench.cost); empty where no cell has its cost measured."""
    timed = [c for c in cells if (c.cost or {}).get("seconds_per_problem") is not None]
    if not timed:
        return ""
    on_frontier = cell_frontiers(timed)["seconds_per_problem"]
    names = ", ".join(c.identity.variant_label for c in order_cells(timed) if c.key in on_frontier)
    task = timed[0].identity.task
    series = _series(timed, lambda c: c.cost["seconds_per_problem"], _accuracy)
    title = f"{task}: accuracy against seconds per problem"
    caption = f"On the frontier (no other variant both more accurate and faster end to end): {names}."
    axes = ("seconds per problem", "accuracy")
    return _chart_figure(chart_id, title, axes, series, timed, styles, caption, depth, lines=False, y_range=(0.0, 1.0))

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
from rac_bench.leaderboard.page import Row, footer, page, settings_list, table_html
from rac_bench.leaderboard.plots import Box, Point, Styles, box_chart, chart, legend
from rac_bench.leaderboard.rows import Column, leaderboard_rows, order_cells, shown_columns
from rac_bench.provenance import git_commit

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
    quantization = cell.settings.get("quantization")
    if quantization:
        parts.append(f"w{quantization['bits']}")
    return "+".join(parts)


def styles_for(cells: list[Cell]) -> Styles:
    levels = sorted({level(c) for c in cells} - {""}, key=lambda name: (name.startswith("w"), name))
    return Styles.of({series_name(c) for c in cells}, levels)


def cell_table(cells: list[Cell], table_id: str, caption: str, columns: list[Column], links=None) -> str:
    """The full table of some cells; `links(cell)` gives the hrefs of a row's entries by column key."""
    rows = [
        Row(
            entries,
            f"{table_id}-{slug(cell.identity.variant_label)}",
            "dense" if cell.identity.is_dense else "pruned",
            links(cell) if links else None,
        )
        for cell, entries in zip(order_cells(cells), leaderboard_rows(cells, columns))
    ]
    return table_html(table_id, caption, columns, rows)


def _point(x: float, estimate, cell: Cell) -> Point:
    return Point(x, estimate.value, estimate.low, estimate.high, level(cell))


def _figure(chart_id: str, title: str, svg: str, cells: list[Cell], styles: Styles, caption: str) -> str:
    if not svg:
        return ""
    names = sorted({series_name(c) for c in cells}, key=lambda name: (name != "dense", name))
    levels = sorted({level(c) for c in cells} - {""}, key=list(styles.marks).index)
    return (
        f'<figure><h4 id="{chart_id}-heading">{html.escape(title)}</h4>{svg}{legend(names, levels, styles)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def charts(cells: list[Cell], styles: Styles, prefix: str) -> str:
    """The charts of one model and task."""
    dense = next((c for c in cells if c.identity.is_dense), None)
    pruned = [c for c in cells if c.identity.sparsity > 0]
    quantized = [c for c in cells if c.settings.get("quantization")]
    figures = []
    if pruned:
        accuracy: dict[str, list[Point]] = {}
        thinking: dict[str, list[Point]] = {}
        for cell in pruned:
            accuracy.setdefault(series_name(cell), []).append(
                _point(cell.identity.sparsity, cell.results.accuracy, cell)
            )
            thinking.setdefault(series_name(cell), []).append(
                _point(cell.identity.sparsity, cell.results.thinking_tokens, cell)
            )
        if dense is not None:  # every curve starts from the dense model at sparsity 0
            for name, points in accuracy.items():
                points.append(_point(0.0, dense.results.accuracy, dense))
                thinking[name].append(_point(0.0, dense.results.thinking_tokens, dense))
        shown = pruned + ([dense] if dense else [])
        figures.append(
            _figure(
                f"{prefix}-acc-sparsity",
                "Accuracy vs sparsity",
                chart(
                    f"{prefix}-acc-sparsity",
                    "Accuracy vs sparsity",
                    "sparsity",
                    "accuracy",
                    accuracy,
                    styles,
                    y_range=(0.0, 1.0),
                ),
                shown,
                styles,
                "Accuracy of each pruning method at each sparsity, from dense at 0; bars: 95% intervals.",
            )
        )
        figures.append(
            _figure(
                f"{prefix}-think-sparsity",
                "Thinking tokens vs sparsity",
                chart(
                    f"{prefix}-think-sparsity",
                    "Thinking tokens vs sparsity",
                    "sparsity",
                    "mean thinking tokens",
                    thinking,
                    styles,
                    digits=1,
                ),
                shown,
                styles,
                "Mean thinking tokens per response at each sparsity: pruned models tend to think longer.",
            )
        )
    if quantized:
        by_bits: dict[str, list[Point]] = {}
        for cell in quantized:
            bits = cell.settings["quantization"]["bits"]
            by_bits.setdefault(series_name(cell), []).append(_point(bits, cell.results.accuracy, cell))
        reference = f" Dense: {dense.results.accuracy.value:.3f}." if dense else ""
        figures.append(
            _figure(
                f"{prefix}-acc-bits",
                "Accuracy vs bits",
                chart(
                    f"{prefix}-acc-bits",
                    "Accuracy vs bits",
                    "bits per weight",
                    "accuracy",
                    by_bits,
                    styles,
                    y_range=(0.0, 1.0),
                ),
                quantized,
                styles,
                "Accuracy of each quantizer at each bit width; bars: 95% intervals." + reference,
            )
        )
    scatter_thinking: dict[str, list[Point]] = {}
    scatter_latency: dict[str, list[Point]] = {}
    for cell in order_cells(cells):
        name = series_name(cell)
        scatter_thinking.setdefault(name, []).append(
            _point(cell.results.thinking_tokens.value, cell.results.accuracy, cell)
        )
        scatter_latency.setdefault(name, []).append(_point(cell.results.latency_seconds, cell.results.accuracy, cell))
    figures.append(
        _figure(
            f"{prefix}-acc-thinking",
            "Accuracy vs thinking",
            chart(
                f"{prefix}-acc-thinking",
                "Accuracy vs thinking",
                "mean thinking tokens",
                "accuracy",
                scatter_thinking,
                styles,
                lines=False,
                y_range=(0.0, 1.0),
            ),
            cells,
            styles,
            "Each variant's accuracy against its mean thinking tokens: colour is the method, mark the level.",
        )
    )
    boxes = [
        Box(
            c.identity.variant_label,
            series_name(c),
            *(c.results.thinking_distribution["all"][k] for k in ("p10", "p25", "median", "p75", "p90")),
        )
        for c in order_cells(cells)
    ]
    figures.append(
        _figure(
            f"{prefix}-think-boxes",
            "Thinking tokens per response",
            box_chart(f"{prefix}-think-boxes", "Thinking tokens per response", "thinking tokens", boxes, styles),
            cells,
            styles,
            "Spread of thinking tokens per response: whiskers p10-p90, box p25-p75, bar the median.",
        )
    )
    figures.append(
        _figure(
            f"{prefix}-acc-latency",
            "Accuracy vs latency",
            chart(
                f"{prefix}-acc-latency",
                "Accuracy vs latency",
                "mean latency per request (s)",
                "accuracy",
                scatter_latency,
                styles,
                lines=False,
                y_range=(0.0, 1.0),
            ),
            cells,
            styles,
            "Each variant's accuracy against its mean wall time per request on this run's machine.",
        )
    )
    return f'<div class="charts">{"".join(figures)}</div>'


def examples(cells: list[Cell], found: dict[str, list[dict]]) -> str:
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
    return "<h3>Example responses</h3>" + "".join(parts) if parts else ""


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


def task_section(cells: list[Cell], styles: Styles, prefix: str, found_examples: dict, links=None) -> str:
    """One model and task: the table, a note on reading it, the charts and example responses."""
    columns = [c for c in shown_columns(cells) if c.key not in ("model", "task")]  # the heading names them
    model, task = cells[0].identity.model, cells[0].identity.task
    caption = f"{model} on {task}: {len(cells)} variants"
    return (
        cell_table(cells, prefix, caption, columns, links)
        + f'<p class="note">{html.escape(NOTE)}</p>'
        + charts(cells, styles, prefix)
        + examples(cells, found_examples)
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
    body = "".join(sections) + f"<h2>How these numbers were made</h2>{commands_html(commands)}{calibrations(cells)}"
    return page(title, body, footer(cells, git_commit()))

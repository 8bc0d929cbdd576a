"""The leaderboard as one static HTML page: per model and task a sortable table (click a header; or open the
page with `#sort=<column>-asc|desc`), charts of accuracy and thinking tokens against sparsity and of accuracy
against latency, example responses, and how the numbers were made.

Everything shown is escaped with html.escape, model-generated text above all: a response is untrusted input.
"""

from __future__ import annotations

import html
from itertools import groupby

from rac_bench.cells import Cell
from rac_bench.leaderboard.plots import PALETTE, Box, Point, box_chart, chart
from rac_bench.leaderboard.rows import leaderboard_rows, order_cells, shown_columns

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.text { text-align: left; } td.best { font-weight: bold; background: #e6f4ea; }
tr.dense td { background: #fafafa; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
svg.chart text { font-size: 11px; } svg.chart .title { font-size: 13px; font-weight: bold; }
svg.chart .axis { stroke: #444; } svg.chart .grid { stroke: #eee; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 0.5rem; max-width: 100%; }
code { background: #f3f3f3; padding: 0 3px; }
"""

SCRIPT = """
function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (row) => {
    const value = row.cells[column].dataset.sort;
    const number = parseFloat(value);
    return isNaN(number) ? value : number;
  };
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return descending ? -order : order;
  });
  rows.forEach((row) => body.appendChild(row));
  Array.from(table.tHead.rows[0].cells).forEach((cell, index) => {
    cell.setAttribute("aria-sort", index === column ? (descending ? "descending" : "ascending") : "none");
  });
}
document.querySelectorAll("table.leaderboard").forEach((table) => {
  Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
    header.addEventListener("click", () => sortTable(table, index, header.getAttribute("aria-sort") === "ascending"));
  });
});
const requested = /^#sort=(\\d+)-(asc|desc)$/.exec(window.location.hash);
if (requested) {
  document.querySelectorAll("table.leaderboard").forEach((table) =>
    sortTable(table, parseInt(requested[1], 10), requested[2] === "desc"));
}
document.body.dataset.ready = "1";
"""


def _table(cells: list[Cell]) -> str:
    # the section's heading names the model and task
    columns = [c for c in shown_columns(cells) if c.name not in ("model", "task")]
    head = "".join(f'<th scope="col" aria-sort="none">{html.escape(c.name)}</th>' for c in columns)
    body = []
    for cell, entries in zip(order_cells(cells), leaderboard_rows(cells, columns)):
        tds = "".join(
            f'<td class="{"text" if column.kind == "text" else "num"}{" best" if entry.best else ""}" '
            f'data-sort="{html.escape(str(entry.sort_value))}">{html.escape(entry.text)}</td>'
            for column, entry in zip(columns, entries)
        )
        body.append(f'<tr class="{"dense" if cell.identity.is_dense else "pruned"}">{tds}</tr>')
    return (
        f'<table class="leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        "<p>Bold: best among the pruned models at the same sparsity. Intervals are 95% bootstrap intervals over "
        "problems; Δ is paired with dense on the same problems.</p>"
    )


def _x(cell: Cell) -> float:
    return cell.identity.sparsity  # an N:M cell's sparsity is N/M


def _series_name(cell: Cell) -> str:
    identity = cell.identity
    return identity.method if identity.pattern == "unstructured" else f"{identity.method} ({identity.pattern})"


def _point(x: float, estimate) -> Point:
    return Point(x, estimate.value, estimate.low, estimate.high)


def _charts(cells: list[Cell]) -> str:
    dense = next((c for c in cells if c.identity.is_dense), None)
    names = sorted({_series_name(c) for c in cells if not c.identity.is_dense})
    colors = {name: PALETTE[(i + 1) % len(PALETTE)] for i, name in enumerate(names)}
    colors["dense"] = PALETTE[0]
    accuracy: dict[str, list[Point]] = {name: [] for name in names}
    thinking: dict[str, list[Point]] = {name: [] for name in names}
    latency: dict[str, list[Point]] = {}
    by_thinking: dict[str, list[Point]] = {}
    for cell in cells:
        estimate, tokens = cell.results.accuracy, cell.results.thinking_tokens
        series = "dense" if cell.identity.is_dense else _series_name(cell)
        latency.setdefault(series, []).append(_point(cell.results.latency_seconds, estimate))
        by_thinking.setdefault(series, []).append(_point(tokens.value, estimate))
        if cell.identity.is_dense:
            continue
        accuracy[series].append(_point(_x(cell), estimate))
        thinking[series].append(_point(_x(cell), tokens))
    if dense is not None:  # every curve starts from the dense model at sparsity 0
        for name in names:
            accuracy[name].append(_point(0.0, dense.results.accuracy))
            thinking[name].append(_point(0.0, dense.results.thinking_tokens))
    scatter = dict(lines=False, colors=colors, y_range=(0.0, 1.0))
    return (
        '<div class="charts">'
        + chart("Accuracy vs sparsity", "sparsity", "accuracy", accuracy, colors=colors, y_range=(0.0, 1.0))
        + chart("Thinking tokens vs sparsity", "sparsity", "mean thinking tokens", thinking, colors=colors)
        + chart(
            "Accuracy vs thinking", "mean thinking tokens", "accuracy", dict(sorted(by_thinking.items())), **scatter
        )
        + box_chart(
            "Thinking tokens per response",
            "thinking tokens (p10, p25, median, p75, p90)",
            _boxes(cells),
            [colors["dense" if c.identity.is_dense else _series_name(c)] for c in order_cells(cells)],
        )
        + chart(
            "Accuracy vs latency", "mean latency per request (s)", "accuracy", dict(sorted(latency.items())), **scatter
        )
        + "</div>"
    )


def _boxes(cells: list[Cell]) -> list[Box]:
    boxes = []
    for cell in order_cells(cells):
        spread = cell.results.thinking_distribution["all"]
        boxes.append(Box(cell.identity.variant_label, *(spread[k] for k in ("p10", "p25", "median", "p75", "p90"))))
    return boxes


def _examples(cells: list[Cell], examples: dict[str, list[dict]]) -> str:
    parts = []
    for cell in order_cells(cells):
        shown = examples.get(cell.key, [])
        if not shown:
            continue
        label = cell.identity.variant_label
        items = "".join(
            f"<p>{'correct' if s['correct'] else 'wrong'}: extracted <code>{html.escape(str(s.get('extracted')))}"
            f"</code>, reference <code>{html.escape(str(s.get('reference')))}</code></p>"
            f"<pre>{html.escape(str(s.get('prompt', '')))}</pre><pre>{html.escape(str(s.get('response', '')))}</pre>"
            for s in shown
        )
        parts.append(f"<details><summary>{html.escape(label)}</summary>{items}</details>")
    return "<h3>Example responses</h3>" + "".join(parts) if parts else ""


def _calibrations(cells: list[Cell]) -> str:
    """Each pruned variant's calibration: its source and every setting that made its tokens."""
    seen, items = set(), []
    for cell in order_cells(cells):
        manifest = (cell.pruning or {}).get("calibration")
        label = f"{cell.identity.model} {cell.identity.variant_label}"
        if manifest and label not in seen:
            seen.add(label)
            settings = ", ".join(f"{key} {value}" for key, value in manifest["settings"].items())
            items.append(
                f"<li><code>{html.escape(label)}</code>: {manifest['tokens']:,} tokens ({manifest['prompt_tokens']:,} "
                f"prompt, {manifest['generated_tokens']:,} generated); {html.escape(settings)}</li>"
            )
    return f"<h3>Calibration</h3><ul>{''.join(items)}</ul>" if items else ""


def render_html(
    cells: list[Cell], title: str, commands: list[str], examples: dict[str, list[dict]] | None = None
) -> str:
    sections = []
    for (model, task), group in groupby(order_cells(cells), key=lambda c: (c.identity.model, c.identity.task)):
        group = list(group)
        sections.append(
            f"<section><h2>{html.escape(model)} on {html.escape(task)}</h2>"
            f"{_table(group)}{_charts(group)}{_examples(group, examples or {})}</section>"
        )
    provenance = cells[0].provenance if cells else {}
    packages = ", ".join(f"{k} {v}" for k, v in sorted(provenance.get("packages", {}).items()) if v)
    hardware = provenance.get("hardware", {})
    made_by = "".join(f"<pre>{html.escape(command)}</pre>" for command in commands)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}"
        f"<h2>How these numbers were made</h2>{made_by}{_calibrations(cells)}"
        f"<p>git commit <code>{html.escape(str(provenance.get('git_commit')))}</code>; {html.escape(packages)}; "
        f"{html.escape(str(hardware.get('cpus')))} CPUs, {html.escape(str(hardware.get('machine')))}, "
        f"Python {html.escape(str(hardware.get('python')))}.</p>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )

"""The leaderboard as text: a terminal table and Markdown (through tabulate), a LaTeX table for papers, and CSV.

The best entry of each column (see rows.py) is marked: `*` in the terminal, bold in Markdown and LaTeX, and an
`_is_best` column in CSV. The terminal and LaTeX show the headline columns unless `--columns` chooses; Markdown
and CSV every column worth showing. CSV holds numbers only (blank where there is none), an estimate split into
value, low and high, under the columns' machine names.
"""

from __future__ import annotations

import csv
import io
import re
from itertools import groupby

from tabulate import tabulate

from rac_bench.cells import Cell
from rac_bench.cost import FRONTIER_MARK, FRONTIER_NOTE
from rac_bench.leaderboard.method_info import method_infos
from rac_bench.leaderboard.rows import (
    Column,
    Entry,
    column_named,
    leaderboard_rows,
    numeric,
    order_cells,
    shown_columns,
)
from rac_bench.metrics import Estimate

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
}
BEST_NOTE = "best among the pruned models of one task at the same sparsity and bits"


def latex_escape(text: str) -> str:
    return re.sub("|".join(re.escape(k) for k in _LATEX_SPECIALS), lambda m: _LATEX_SPECIALS[m.group()], text)


def _columns(cells: list[Cell], columns: list[Column] | None, headline: bool) -> list[Column]:
    return columns if columns is not None else shown_columns(cells, headline=headline)


def render_text(cells: list[Cell], style: str, columns: list[Column] | None = None) -> str:
    """style: terminal (headline columns by default) or markdown (every column shown, then the methods)."""
    columns = _columns(cells, columns, headline=style == "terminal")
    rows = leaderboard_rows(cells, columns)
    if style == "terminal":
        body = [[f"{entry.text} *" if entry.best else entry.text for entry in row] for row in rows]
        table = tabulate(body, headers=[c.name for c in columns], tablefmt="simple", disable_numparse=True)
        return table + f"\n* {BEST_NOTE}" + _frontier_note(rows, "\n")
    body = [[f"**{entry.text}**" if entry.best else entry.text for entry in row] for row in rows]
    table = tabulate(body, headers=[c.name for c in columns], tablefmt="github", disable_numparse=True)
    return table + f"\n\nBold: {BEST_NOTE}." + _frontier_note(rows, " ") + "\n\n" + _markdown_methods(cells)


def _frontier_note(rows, separator: str) -> str:
    marked = any(entry.text.endswith(FRONTIER_MARK) for row in rows for entry in row)
    return f"{separator}{FRONTIER_NOTE}." if marked else ""


def _markdown_methods(cells: list[Cell]) -> str:
    """What each method is. Its description and package come from a plugin (or a store): text, never markup."""
    lines = ["Methods:", ""]
    for info in method_infos(cells).values():
        paper = f" ([paper]({info.paper}))" if info.paper else ""
        package = f"; {info.distribution} {info.version}" if info.distribution not in (None, "rac-bench") else ""
        lines.append(f"- `{info.label}`: {markdown_escape(info.summary + package)}{paper}")
    return "\n".join(lines)


_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_escape(text: str) -> str:
    """Text shown as itself in Markdown: HTML (`<script>`, `<img onerror>`) as entities, and the characters that
    start emphasis, links or code backslash-escaped; one line (a list item, not a table cell)."""
    text = " ".join(str(text).split())
    text = re.sub(r"[&<>]", lambda m: _MARKDOWN_ENTITIES[m.group()], text)
    return re.sub(r"([\\`*_\[\]~#!])", r"\\\1", text)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "leaderboard"


def _latex_number(text: str, bold: bool) -> str:
    """A number in math mode, so that a negative one gets a real minus sign."""
    text = text.replace(FRONTIER_MARK, r"\diamond")  # math mode: LaTeX's own diamond, no package needed
    return rf"$\mathbf{{{text}}}$" if bold else f"${text}$"


def _latex_entry(column: Column, entry: Entry) -> str:
    if column.kind == "text":
        if entry.value is None:
            return "--"
        text = latex_escape(entry.text)
        return rf"\textbf{{{text}}}" if entry.best else text
    value = entry.value
    if numeric(value) is None:
        return "--"
    if isinstance(value, Estimate):  # the interval in small type, one digit shorter, so that it fits a column
        sign = "+" if column.signed else ""
        digits = max(1, column.digits - 1)
        interval = rf"{{\scriptsize $[{value.low:.{digits}f}, {value.high:.{digits}f}]$}}"
        return _latex_number(f"{value.value:{sign}.{column.digits}f}", entry.best) + r"\," + interval
    return _latex_number(entry.text, entry.best)


def render_latex(cells: list[Cell], title: str, columns: list[Column] | None = None) -> str:
    """A booktabs table in a table float with a caption and label; needs \\usepackage{booktabs}."""
    columns = _columns(cells, columns, headline=True)
    alignment = "".join("l" if column.kind == "text" else "r" for column in columns)
    lines = [
        "% rac-bench leaderboard; needs \\usepackage{booktabs} in the preamble",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(title)}. Brackets: 95\% confidence intervals; bold: {BEST_NOTE}.}}",
        rf"\label{{tab:{_slug(title)}}}",
        r"\small",
        rf"\begin{{tabular}}{{{alignment}}}",
        r"\toprule",
        " & ".join(latex_escape(column.short_name) for column in columns) + r" \\",
        r"\midrule",
    ]
    ordered = order_cells(cells)
    rows = iter(leaderboard_rows(cells, columns))
    groups = [len(list(group)) for _, group in groupby(ordered, key=lambda c: (c.identity.model, c.identity.task))]
    for number, size in enumerate(groups):
        if number:
            lines.append(r"\midrule")  # between models and tasks
        for _ in range(size):
            row = next(rows)
            lines.append(" & ".join(_latex_entry(column, entry) for column, entry in zip(columns, row)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def csv_header(columns: list[Column]) -> list[str]:
    header = []
    for column in columns:
        header += (
            [column.key + suffix for suffix in ("", "_low", "_high")] if column.kind == "estimate" else [column.key]
        )
        if column.higher_is_better is not None:
            header.append(f"{column.key}_is_best")
    return header


def csv_values(columns: list[Column], row: list[Entry]) -> list:
    values = []
    for column, entry in zip(columns, row):
        value = entry.value
        if column.kind == "estimate":
            defined = isinstance(value, Estimate) and numeric(value) is not None
            values += [value.value, value.low, value.high] if defined else ["", "", ""]
        elif column.kind == "number":
            number = numeric(value)
            values.append("" if number is None else (number if column.digits else round(number)))
        else:
            values.append("" if value is None else value)
        if column.higher_is_better is not None:
            values.append(int(entry.best))
    return values


def render_csv(cells: list[Cell], columns: list[Column] | None = None) -> str:
    """The table as CSV; by default with the model column even for one model, so a download says what it measured."""
    if columns is None:
        shown = shown_columns(cells)
        columns = shown if any(c.key == "model" for c in shown) else [column_named("model"), *shown]
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(csv_header(columns))
    writer.writerows(csv_values(columns, row) for row in leaderboard_rows(cells, columns))
    return output.getvalue()

"""The leaderboard as text: a terminal table, Markdown and LaTeX (through tabulate), and CSV.

The best entry of each column (see rows.py) is marked: `*` in the terminal, bold in Markdown and LaTeX, and
an `is_best` column pair in CSV, whose numbers are split into value, low and high for spreadsheets.
"""

from __future__ import annotations

import csv
import io
import re

from tabulate import tabulate

from rac_bench.cells import Cell
from rac_bench.leaderboard.rows import leaderboard_rows, numeric, order_cells, shown_columns
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
}


def latex_escape(text: str) -> str:
    return re.sub("|".join(re.escape(k) for k in _LATEX_SPECIALS), lambda m: _LATEX_SPECIALS[m.group()], text)


def _marked(text: str, best: bool, style: str) -> str:
    if not best:
        return text
    return {"terminal": f"{text} *", "markdown": f"**{text}**", "latex": rf"\textbf{{{text}}}"}[style]


def render_text(cells: list[Cell], style: str) -> str:
    """style: terminal, markdown or latex."""
    columns = shown_columns(cells)
    rows = leaderboard_rows(cells, columns)
    escape = latex_escape if style == "latex" else (lambda text: text)
    body = [[_marked(escape(entry.text), entry.best, style) for entry in row] for row in rows]
    headers = [escape(column.name) for column in columns]
    table_format = {"terminal": "simple", "markdown": "github", "latex": "latex_raw"}[style]
    table = tabulate(body, headers=headers, tablefmt=table_format, disable_numparse=True)
    if style == "terminal":
        table += "\n* best among the pruned models of one task at the same sparsity"
    return table


def render_csv(cells: list[Cell]) -> str:
    columns = shown_columns(cells)
    header = []
    for column in columns:
        if column.kind == "estimate":
            header += [column.name.split(" [")[0] + suffix for suffix in ("", " low", " high")]
        else:
            header.append(column.name)
        if column.higher_is_better is not None:
            header.append(f"{column.name.split(' [')[0]} is best")
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(header)
    for cell, row in zip(order_cells(cells), leaderboard_rows(cells, columns)):
        values = []
        for column, entry in zip(columns, row):
            value = column.read(cell)
            if column.kind == "estimate":
                values += [value.value, value.low, value.high] if isinstance(value, Estimate) else ["", "", ""]
            elif column.kind == "number":
                number = numeric(value)
                values.append("" if number is None else number)
            else:
                values.append(value)
            if column.higher_is_better is not None:
                values.append(int(entry.best))
        writer.writerow(values)
    return output.getvalue()

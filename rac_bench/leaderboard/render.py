"""One entry point for every leaderboard format that is one document, and the file extension each is written
with; `site` is a directory of pages (rac_bench.leaderboard.site)."""

from __future__ import annotations

from rac_bench import strict_json
from rac_bench.cells import Cell
from rac_bench.leaderboard.baseline import baseline_document
from rac_bench.leaderboard.html import render_html
from rac_bench.leaderboard.rows import Column
from rac_bench.leaderboard.table_json import table_document
from rac_bench.leaderboard.text import render_csv, render_latex, render_text

EXTENSIONS = {
    "terminal": "txt",
    "markdown": "md",
    "csv": "csv",
    "latex": "tex",
    "html": "html",
    "json": "json",
    "baseline": "baseline.json",
}
FORMATS = [*EXTENSIONS, "site"]
TAKE_COLUMNS = ("terminal", "markdown", "latex", "csv", "json")  # the formats --columns applies to


def render(
    cells: list[Cell],
    fmt: str,
    title: str,
    commands: list[str],
    examples: dict[str, list[dict]],
    columns: list[Column] | None = None,
) -> str:
    if fmt in ("terminal", "markdown"):
        return render_text(cells, fmt, columns) + "\n"
    if fmt == "latex":
        return render_latex(cells, title, columns) + "\n"
    if fmt == "csv":
        return render_csv(cells, columns)
    if fmt == "html":
        return render_html(cells, title, commands, examples)
    if fmt == "json":
        return strict_json.dumps(table_document(cells, title, commands, columns), indent=2) + "\n"
    return strict_json.dumps({**baseline_document(cells), "commands": commands}, indent=2) + "\n"

"""One entry point for every leaderboard format, and the file extension each is written with."""

from __future__ import annotations

from rac_bench import strict_json
from rac_bench.cells import Cell
from rac_bench.leaderboard.baseline import baseline_document
from rac_bench.leaderboard.html import render_html
from rac_bench.leaderboard.text import render_csv, render_text

EXTENSIONS = {"terminal": "txt", "markdown": "md", "csv": "csv", "latex": "tex", "html": "html", "json": "json"}


def render(cells: list[Cell], fmt: str, title: str, commands: list[str], examples: dict[str, list[dict]]) -> str:
    if fmt in ("terminal", "markdown", "latex"):
        return render_text(cells, fmt) + "\n"
    if fmt == "csv":
        return render_csv(cells)
    if fmt == "html":
        return render_html(cells, title, commands, examples)
    return strict_json.dumps({**baseline_document(cells), "commands": commands}, indent=2) + "\n"

"""`--format markdown`: every column worth showing as a GitHub table, then what each method is."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.text import render_text

FORMAT = Format(
    "markdown", "md", lambda board: render_text(board.cells, "markdown", board.columns) + "\n",
    "every column worth showing", takes_columns=True,
)  # fmt: skip

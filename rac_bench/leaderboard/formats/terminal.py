"""`--format terminal` (the default): the headline columns as a plain-text table, the best entries starred."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.text import render_text

FORMAT = Format(
    "terminal", "txt", lambda board: render_text(board.cells, "terminal", board.columns) + "\n",
    "a plain-text table", takes_columns=True,
)  # fmt: skip

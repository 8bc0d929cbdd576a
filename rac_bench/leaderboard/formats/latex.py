"""`--format latex`: a booktabs table for papers, the headline columns by default."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.text import render_latex

FORMAT = Format(
    "latex", "tex", lambda board: render_latex(board.cells, board.title, board.columns) + "\n",
    "a booktabs table", takes_columns=True,
)  # fmt: skip

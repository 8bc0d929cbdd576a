"""`--format csv`: numbers only, an estimate as value, low and high, under the columns' machine names."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.text import render_csv

FORMAT = Format(
    "csv", "csv", lambda board: render_csv(board.cells, board.columns), "numbers under the column keys",
    takes_columns=True,
)  # fmt: skip

"""`--format html`: one self-contained page with tables, charts and example responses."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.html import render_html

FORMAT = Format(
    "html", "html", lambda board: render_html(board.cells, board.title, board.commands, board.examples),
    "one page with charts", needs_examples=True,
)  # fmt: skip

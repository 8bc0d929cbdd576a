"""`--format site --out DIR`: a static site of pages (rac_bench.leaderboard.site), written into a directory."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.site import check_site_directory, site_pages, write_site

FORMAT = Format(
    "site", "", lambda board: site_pages(board.cells, board.title, board.commands, board.examples),
    "a static site in the directory --out", directory=True, needs_examples=True,
    check_out=check_site_directory, write=write_site,
)  # fmt: skip

"""`--format site --out DIR`: a static site of pages (rac_bench.leaderboard.site), written into a directory."""

from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.site import site_pages
from rac_bench.leaderboard.site_files import check_site_directory, write_site

FORMAT = Format(
    "site", "", lambda board: site_pages(board.cells, board.title, board.commands, board.examples, board.samples),
    "a static site in the directory --out", directory=True, needs_examples=True,
    check_out=check_site_directory, write=write_site,
)  # fmt: skip

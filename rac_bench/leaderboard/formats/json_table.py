"""`--format json`: every column of every cell for tools (rac_bench.leaderboard.table_json)."""

from rac_bench import strict_json
from rac_bench.leaderboard.formats import Format
from rac_bench.leaderboard.table_json import table_document


def _render(board) -> str:
    return strict_json.dumps(table_document(board.cells, board.title, board.commands, board.columns), indent=2) + "\n"


FORMAT = Format("json", "json", _render, "every column", takes_columns=True)

"""`--format baseline`: what `rac-bench gate` reads (rac_bench.leaderboard.baseline)."""

from rac_bench import strict_json
from rac_bench.leaderboard.baseline import baseline_document
from rac_bench.leaderboard.formats import Format


def _render(board) -> str:
    return strict_json.dumps({**baseline_document(board.cells), "commands": board.commands}, indent=2) + "\n"


FORMAT = Format("baseline", "baseline.json", _render, "what `gate` reads")

"""The leaderboard's content, independent of its format: which cells, in what order, which columns, and which
entry is best in its column.

"Best" is decided among the pruned cells of one model and task at the same sparsity target, since that is
the comparison a reader makes (which method wins at 50%?); dense is the reference, never the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from rac_bench.leaderboard.table import format_estimate, target_label


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text", "estimate" (value with a CI) or "number"
    read: Callable[[dict], object]  # cell -> str, estimate dict or float (None: not measured)
    higher_is_better: bool | None = None  # None: not ranked
    digits: int = 3


def _pass_at_1(cell: dict) -> dict | None:
    return cell.get("pass_at_k", {}).get("1")


COLUMNS = [
    Column("model", "text", lambda c: c["model"]),
    Column("task", "text", lambda c: c["task"]),
    Column("method", "text", lambda c: c["method"]),
    Column("sparsity", "text", target_label),
    Column("accuracy [95% CI]", "estimate", lambda c: c["accuracy"], True),
    Column("Δ vs dense [95% CI]", "estimate", lambda c: c.get("delta_vs_dense"), True),
    Column("pass@1 [95% CI]", "estimate", _pass_at_1, True),
    # neither more nor fewer thinking tokens is better; cells stored before the intervals existed show the mean
    Column(
        "think tok [95% CI]",
        "estimate",
        lambda c: c.get("thinking_tokens_estimate", c["mean_thinking_tokens"]),
        None,
        1,
    ),
    Column("truncated [95% CI]", "estimate", lambda c: c.get("truncation_estimate", c["truncation_rate"]), False),
    Column("latency s", "number", lambda c: c.get("mean_latency_seconds"), False, 3),
    Column("prune s", "number", lambda c: c["prune_seconds"], False, 1),
]


@dataclass(frozen=True)
class Entry:
    text: str
    sort_value: float | str
    best: bool


def numeric(value) -> float | None:
    """The number a column is ranked and plotted by: an estimate's point value or the number itself."""
    if value is None:
        return None
    number = value["value"] if isinstance(value, dict) else value
    return None if number is None or (isinstance(number, float) and math.isnan(number)) else float(number)


def _text(column: Column, value) -> str:
    if value is None:
        return "-"
    if column.kind == "estimate" and isinstance(value, dict):
        return format_estimate(value, signed=column.name.startswith("Δ"), digits=column.digits)
    if column.kind in ("number", "estimate"):
        number = numeric(value)
        return "-" if number is None else f"{number:.{column.digits}f}"
    return str(value)


def order_cells(cells: list[dict]) -> list[dict]:
    """Model, task, then dense first, then by pattern, sparsity and method."""
    return sorted(
        cells,
        key=lambda c: (c["model"], c["task"], c["method"] != "dense", c["pattern"], c["sparsity"], c["method"]),
    )


def leaderboard_rows(cells: list[dict], columns: list[Column] = COLUMNS) -> list[list[Entry]]:
    cells = order_cells(cells)
    best: set[tuple[int, str]] = set()
    groups: dict[tuple, list[int]] = {}
    for index, cell in enumerate(cells):
        if cell["method"] != "dense":
            groups.setdefault((cell["model"], cell["task"], cell["pattern"], cell["sparsity"]), []).append(index)
    for members in groups.values():
        if len(members) < 2:
            continue
        for column in columns:
            if column.higher_is_better is None:
                continue
            scored = [(numeric(column.read(cells[i])), i) for i in members]
            scored = [(value, i) for value, i in scored if value is not None]
            if not scored:
                continue
            target = (max if column.higher_is_better else min)(value for value, _ in scored)
            best.update((i, column.name) for value, i in scored if value == target)
    rows = []
    for index, cell in enumerate(cells):
        row = []
        for column in columns:
            value = column.read(cell)
            number = numeric(value) if column.kind != "text" else None
            sort_value = number if number is not None else (str(value) if column.kind == "text" else float("-inf"))
            row.append(Entry(_text(column, value), sort_value, (index, column.name) in best))
        rows.append(row)
    return rows

"""The leaderboard as JSON for tools (`--format json`): every column of every cell under its machine name, an
estimate as {value, low, high}, which entries are best, and what each method is. The gate's baseline is its own
format (`--format baseline`, rac_bench.leaderboard.baseline)."""

from __future__ import annotations

from rac_bench import __version__
from rac_bench.cells import Cell
from rac_bench.leaderboard.method_info import method_infos, method_name
from rac_bench.leaderboard.rows import Column, all_columns, leaderboard_rows, numeric, order_cells
from rac_bench.metrics import Estimate

FORMAT = "rac-bench-leaderboard/1"


def _value(value):
    if isinstance(value, Estimate):
        return {"value": value.value, "low": value.low, "high": value.high} if numeric(value) is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return numeric(value)
    return value


def table_document(cells: list[Cell], title: str, commands: list[str], columns: list[Column] | None = None) -> dict:
    columns = columns if columns is not None else all_columns()
    records = []
    for cell, row in zip(order_cells(cells), leaderboard_rows(cells, columns)):
        identity = cell.identity
        records.append(
            {
                "model": identity.model,
                "task": identity.task,
                "method": identity.method,
                "method_name": method_name(cell),
                "pattern": identity.pattern,
                "sparsity": identity.sparsity,
                "values": {column.key: _value(entry.value) for column, entry in zip(columns, row)},
                "best": [column.key for column, entry in zip(columns, row) if entry.best],
            }
        )
    return {
        "format": FORMAT,
        "title": title,
        "rendered_by": f"rac-bench {__version__}",
        "columns": [
            {"key": c.key, "name": c.name, "kind": c.kind, "higher_is_better": c.higher_is_better} for c in columns
        ],
        "methods": {label: vars(info) for label, info in method_infos(cells).items()},
        "cells": records,
        "commands": commands,
    }

"""The baseline file (`rac-bench leaderboard --format baseline`), one entry per cell with
its identity, the settings it was measured with and every gated metric (rac_bench.catalogue) as value and 95%
interval. The gate
(rac_bench.gate) compares a run with it; a file that is not a well-formed baseline is refused."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from rac_bench import catalogue
from rac_bench.cells import Cell, CellIdentity
from rac_bench.errors import StoreError
from rac_bench.leaderboard.rows import order_cells
from rac_bench.metrics import Estimate

FORMAT = "rac-bench-baseline/1"
# Settings that must agree for two cells to be comparable at all (a different backend or batch size may
# change the numbers a little, which the interval allows for; a different problem set may not).
COMPARABLE_SETTINGS = ("task_definition", "data", "limit", "samples", "max_new_tokens", "seed")
MAKE_ONE = "make baselines with `rac-bench leaderboard --format baseline`"


@dataclass(frozen=True)
class BaselineCell:
    identity: CellIdentity
    settings: dict
    metrics: dict[str, Estimate]


def comparable_settings(settings: dict) -> dict:
    return {name: settings.get(name) for name in COMPARABLE_SETTINGS}


def baseline_document(cells: list[Cell]) -> dict:
    return {
        "format": FORMAT,
        "cells": [
            {
                "model": cell.identity.model,
                "task": cell.identity.task,
                "method": cell.identity.method,
                "pattern": cell.identity.pattern,
                "sparsity": cell.identity.sparsity,
                "settings": comparable_settings(cell.settings),
                "achieved_sparsity": cell.achieved_sparsity,
                "metrics": {name: vars(estimate) for name, estimate in catalogue.gated_values(cell).items()},
            }
            for cell in order_cells(cells)
        ],
    }


def load_baseline(path: Path) -> list[BaselineCell]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except OSError as error:
        raise StoreError(f"cannot read baseline {path}: {error.strerror}") from None
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, NaN and Infinity
        raise StoreError(f"baseline {path} is not JSON with finite numbers; {MAKE_ONE}") from None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(document.get("cells"), list)
    ):
        raise StoreError(f"baseline {path} is not a {FORMAT} document; {MAKE_ONE}")
    cells, seen = [], set()
    for number, record in enumerate(document["cells"], 1):
        cell = _parsed(record)
        if cell is None:
            raise StoreError(
                f"baseline {path} cell {number} is malformed: it needs model, task, method, pattern, sparsity, "
                f"settings and metrics of finite {{value, low, high}} with low <= value <= high; {MAKE_ONE}"
            )
        if cell.identity in seen:
            raise StoreError(f"baseline {path} has {cell.identity.describe()} twice (cell {number}); {MAKE_ONE}")
        seen.add(cell.identity)
        cells.append(cell)
    return cells


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _parsed(record) -> BaselineCell | None:
    try:
        identity = CellIdentity(
            *(_text(record[key]) for key in ("model", "task", "method", "pattern")), _number(record["sparsity"])
        )
        metrics = {str(name): _estimate(value) for name, value in record["metrics"].items()}
        settings = record["settings"]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return BaselineCell(identity, settings, metrics) if isinstance(settings, dict) else None


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError
    return float(value)


def _estimate(value: dict) -> Estimate:
    low, point, high = (_number(value[key]) for key in ("low", "value", "high"))
    if not low <= point <= high:
        raise ValueError
    return Estimate(point, low, high, _number(value.get("standard_error", 0.0)))

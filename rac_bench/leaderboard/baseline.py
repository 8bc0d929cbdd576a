"""Baselines and the regression gate.

A baseline is the leaderboard in JSON: one entry per cell with its identity (model, task, method, pattern,
sparsity), the settings it was measured with, and every metric as value and 95% interval. The gate compares
a run's cells with a baseline's, cell by cell. A cell regressed when its value falls below the baseline's
interval (or, with an explicit tolerance, below the baseline's value minus the tolerance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rac_bench.errors import StoreError
from rac_bench.leaderboard.rows import order_cells

FORMAT = "rac-bench-baseline/1"
# Settings that must agree for two cells to be comparable at all (a different backend or batch size may
# change the numbers a little, which the interval allows for; a different problem set may not).
COMPARABLE_SETTINGS = ("task_definition", "data", "limit", "samples", "max_new_tokens", "seed")


def identity(cell: dict) -> tuple:
    return (cell["model"], cell["task"], cell["method"], cell["pattern"], float(cell["sparsity"]))


def _describe(key: tuple) -> str:
    model, task, method, pattern, sparsity = key
    target = "" if method == "dense" else (f" {pattern}" if pattern != "unstructured" else f" {sparsity:g}")
    return f"{method}{target} on {task} ({model})"


def cell_metrics(cell: dict) -> dict[str, dict]:
    found = {"accuracy": cell["accuracy"]}
    found.update({f"pass@{k}": v for k, v in cell.get("pass_at_k", {}).items()})
    found.update({f"maj@{k}": v for k, v in cell.get("maj_at_k", {}).items()})
    return found


def baseline_document(cells: list[dict]) -> dict:
    return {
        "format": FORMAT,
        "cells": [
            {
                "model": cell["model"],
                "task": cell["task"],
                "method": cell["method"],
                "pattern": cell["pattern"],
                "sparsity": cell["sparsity"],
                "settings": {k: cell.get("settings", {}).get(k) for k in COMPARABLE_SETTINGS},
                "metrics": cell_metrics(cell),
            }
            for cell in order_cells(cells)
        ],
    }


def load_baseline(path: Path) -> list[dict]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise StoreError(f"cannot read baseline {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError(f"baseline {path} is not JSON; make one with `rac-bench leaderboard --format json`") from None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(document.get("cells"), list)
    ):
        raise StoreError(
            f"baseline {path} is not a {FORMAT} document; make one with `rac-bench leaderboard --format json`"
        )
    for number, cell in enumerate(document["cells"], 1):
        if not _well_formed(cell):
            raise StoreError(
                f"baseline {path} cell {number} is malformed: it needs model, task, method, pattern, sparsity, "
                "settings and metrics of {value, low, high}; make baselines with `rac-bench leaderboard --format json`"
            )
    return document["cells"]


def _well_formed(cell) -> bool:
    try:
        identity(cell)
        estimates = cell["metrics"].values()
        return isinstance(cell["settings"], dict) and all(
            all(isinstance(e[k], (int, float)) for k in ("value", "low", "high")) for e in estimates
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class Comparison:
    cell: str
    metric: str
    baseline: dict
    current: dict
    threshold: float
    regressed: bool


def compare(baseline: list[dict], current: list[dict], metric: str, tolerance: float | None) -> list[Comparison]:
    """Every baseline cell against the run's; a mismatch in which cells exist is bad input, not a regression."""
    base = {identity(c): c for c in baseline}
    run = {identity(c): c for c in current}
    missing, extra = sorted(set(base) - set(run)), sorted(set(run) - set(base))
    if missing:
        raise StoreError(
            f"the run lacks {len(missing)} baseline cell(s), e.g. {_describe(missing[0])}; "
            "run the baseline's configuration or make a new baseline"
        )
    if extra:
        raise StoreError(
            f"the run has {len(extra)} cell(s) the baseline lacks, e.g. {_describe(extra[0])}; "
            "gate a run of the baseline's configuration or make a new baseline"
        )
    comparisons = []
    for key in sorted(base):
        base_cell, run_cell = base[key], run[key]
        run_settings = {k: run_cell.get("settings", {}).get(k) for k in COMPARABLE_SETTINGS}
        for name in COMPARABLE_SETTINGS:
            if base_cell["settings"].get(name) != run_settings[name]:
                raise StoreError(
                    f"{_describe(key)} was measured with {name}={base_cell['settings'].get(name)!r} in the baseline "
                    f"but {run_settings[name]!r} in the run; the cells are not comparable"
                )
        base_value = base_cell["metrics"].get(metric)
        run_value = cell_metrics(run_cell).get(metric)
        if base_value is None or run_value is None:
            available = ", ".join(sorted(base_cell["metrics"]))
            raise StoreError(f"metric {metric!r} is not measured for {_describe(key)}; available: {available}")
        threshold = base_value["low"] if tolerance is None else base_value["value"] - tolerance
        comparisons.append(
            Comparison(_describe(key), metric, base_value, run_value, threshold, run_value["value"] < threshold)
        )
    return comparisons

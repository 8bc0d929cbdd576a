"""The leaderboard's one table definition, independent of its format: which cells, in what order, which
columns, and which entry is best in its column. A run's `leaderboard.md` and terminal table and every format
of `rac-bench leaderboard` are rendered from it.

"Best" is decided among the pruned cells of one model and task at the same sparsity target, measured on the same
problems, since that is the comparison a reader makes (which method wins at 50%?); dense is the reference, never
the best, and when every candidate ties (all at 0.000, say) none is. Cells of one task measured on different
problem sets (a `--limit 30` run beside a full one) are ordered as separate groups, and the problems column tells
them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rac_bench import catalogue
from rac_bench.catalogue.builtin import quantization_bits
from rac_bench.cells import Cell
from rac_bench.errors import ConfigError
from rac_bench.metrics import Estimate


@dataclass(frozen=True)
class Column:
    key: str  # the machine name: --columns, CSV headers, JSON keys, #sort=KEY-desc
    name: str  # the header a reader sees
    kind: str  # "text", "estimate" (value with a CI) or "number"
    read: Callable[[Cell], object]  # cell -> str, Estimate or float (None: not measured)
    higher_is_better: bool | None = None  # None: not ranked
    digits: int = 3
    hidden_unless: str = "always"  # always shown; "measured": some cell has a value; "varies": values differ
    signed: bool = False  # a difference, shown with its sign

    @classmethod
    def of(cls, metric: catalogue.Metric) -> Column:
        """A catalogue metric as a table column."""
        return cls(
            metric.key,
            metric.header,
            metric.kind,
            metric.value,
            metric.higher_is_better,
            metric.digits,
            metric.shown,
            metric.signed,
        )

    @property
    def short_name(self) -> str:
        """The header without its interval note, for formats that say once what the brackets are."""
        return self.name.removesuffix(" [95% CI]")


def all_columns() -> list[Column]:
    """Every column of the catalogue, in its order."""
    return [Column.of(metric) for metric in catalogue.columns()]


def column_named(key: str) -> Column:
    return Column.of(catalogue.get(key))


def chosen_columns(keys: list[str] | None) -> list[Column] | None:
    """The columns `--columns` names, in its order; None: the format's default. Unknown keys are refused."""
    if keys is None:
        return None
    columns = {column.key: column for column in all_columns()}
    if keys == ["all"]:
        return list(columns.values())
    unknown = [key for key in keys if key not in columns]
    if unknown:
        raise ConfigError(f"unknown column {unknown[0]!r}; accepted: all, {', '.join(columns)}")
    return [columns[key] for key in keys]


@dataclass(frozen=True)
class Entry:
    text: str
    sort_value: float | str | None
    best: bool
    value: object = None  # what the column read: str, Estimate, number or None


def numeric(value) -> float | None:
    """The number a column is ranked and plotted by: an estimate's point value or the number itself."""
    if value is None:
        return None
    number = value.value if isinstance(value, Estimate) else value
    return None if number is None or (isinstance(number, float) and math.isnan(number)) else float(number)


def format_estimate(estimate: Estimate | None, signed: bool = False, digits: int = 3) -> str:
    if estimate is None or numeric(estimate) is None:  # not measured, or undefined (stored as null)
        return "-"
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"{estimate.value:{spec}} [{estimate.low:{spec}}, {estimate.high:{spec}}]"


def _text(column: Column, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, Estimate):
        return format_estimate(value, signed=column.signed, digits=column.digits)
    if column.kind in ("number", "estimate"):
        number = numeric(value)
        return "-" if number is None else f"{number:.{column.digits}f}"
    return str(value)


def problem_set(cell: Cell) -> tuple:
    """Which problems a cell was measured on: its data, limit and samples per problem."""
    settings = cell.settings
    return (str(settings.get("data")), settings.get("limit") or 0, cell.results.problems, cell.results.samples)


def order_cells(cells: list[Cell]) -> list[Cell]:
    """By model and task, then problem set, then dense first, pattern, sparsity and method."""
    return sorted(cells, key=lambda c: (*c.identity.sort_key()[:2], problem_set(c), *c.identity.sort_key()[2:]))


def shown_columns(cells: list[Cell], headline: bool = False) -> list[Column]:
    """The columns worth a reader's space for these cells (`headline`: of those the catalogue calls headline)."""
    shown = []
    for metric in catalogue.columns():
        if headline and not metric.headline:
            continue
        column = Column.of(metric)
        values = [column.read(cell) for cell in cells]
        if column.hidden_unless == "measured" and all(value is None for value in values):
            continue
        if column.hidden_unless == "varies" and len({str(value) for value in values}) < 2:
            continue
        shown.append(column)
    return shown


def rank_group(cell: Cell) -> tuple:
    """What a compressed cell is ranked against: the cells of the same pattern, sparsity and bits."""
    return (cell.identity.pattern, cell.identity.sparsity, quantization_bits(cell))


def best_in_groups(groups, columns: list[Column], value: Callable[[int, Column], object]) -> set[tuple[int, str]]:
    """(member, column key) of the best entries in each group of more than one member, for every ranked column;
    `value(member, column)` reads an entry."""
    best = set()
    for members in (m for m in groups if len(m) > 1):
        for column in (c for c in columns if c.higher_is_better is not None):
            winners = best_among([(numeric(value(m, column)), m) for m in members], column.higher_is_better)
            best.update((m, column.key) for m in winners)
    return best


def _best(cells: list[Cell], columns: list[Column]) -> set[tuple[int, str]]:
    groups: dict[tuple, list[int]] = {}
    for index, cell in enumerate(cells):
        if not cell.identity.is_dense:
            key = (cell.identity.model, cell.identity.task, problem_set(cell), *rank_group(cell))
            groups.setdefault(key, []).append(index)
    return best_in_groups(groups.values(), columns, lambda index, column: column.read(cells[index]))


def best_among(scored: list[tuple[float | None, object]], higher_is_better: bool) -> set:
    """The keys of the best values (None: not measured); none when every value ties (say all at 0.000)."""
    measured = [(value, key) for value, key in scored if value is not None]
    if len({value for value, _ in measured}) < 2:
        return set()
    target = (max if higher_is_better else min)(value for value, _ in measured)
    return {key for value, key in measured if value == target}


def leaderboard_rows(cells: list[Cell], columns: list[Column]) -> list[list[Entry]]:
    """One row of entries per cell, in `order_cells` order."""
    cells = order_cells(cells)
    best = _best(cells, columns)
    rows = []
    for index, cell in enumerate(cells):
        row = []
        for column in columns:
            value = column.read(cell)
            number = numeric(value) if column.kind != "text" else None
            if column.kind == "text":
                sort_value = "" if value is None else str(value)
            else:
                sort_value = number  # None: not measured, sorted last either way
            row.append(Entry(_text(column, value), sort_value, (index, column.key) in best, value))
        rows.append(row)
    return rows

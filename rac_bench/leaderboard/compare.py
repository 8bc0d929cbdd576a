"""`rac-bench compare --store A --against B`: two stores (two runs, two seeds, two machines) side by side, cell by
cell, with the difference A - B of each metric the catalogue compares (accuracy, thinking tokens, truncation).

Where the two cells were measured on the same problems (the same task data, limit, samples and token limit; the
seed may differ), the difference is paired: per problem, with a bootstrap over the problems both have (as Δ vs
dense is). Otherwise the cells are independent samples and the interval combines their standard errors; the
table says which. A cell in only one store is listed, never dropped silently.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from rac_bench import catalogue, metrics
from rac_bench.cells import Cell, CellIdentity
from rac_bench.errors import ConfigError, StoreError
from rac_bench.leaderboard.page import footer, page
from rac_bench.leaderboard.rows import format_estimate, order_cells
from rac_bench.metrics import Estimate
from rac_bench.provenance import git_commit

PAIRED_SETTINGS = ("task_definition", "data", "limit", "samples", "max_new_tokens")


@dataclass(frozen=True)
class Difference:
    metric: str
    store: Estimate
    against: Estimate
    difference: Estimate  # store minus against: paired per problem where `paired`, else from the two intervals
    paired: bool


@dataclass(frozen=True)
class CellComparison:
    identity: CellIdentity
    problems_in_common: int
    differences: list[Difference]


@dataclass(frozen=True)
class Comparison:
    cells: list[CellComparison]
    only_in_store: list[CellIdentity]
    only_in_against: list[CellIdentity]
    measured: list[Cell]  # every cell of both sides, for the page's provenance


def _problem_scores(samples: list[dict], field: str) -> dict:
    return metrics.per_problem_scores([s["problem_id"] for s in samples], [float(s[field]) for s in samples])


def _unpaired(store: Estimate, against: Estimate) -> Estimate:
    """The difference of two independent estimates, with a normal interval from their standard errors."""
    value = store.value - against.value
    error = math.hypot(store.standard_error, against.standard_error)
    return Estimate(value, value - 1.96 * error, value + 1.96 * error, error)


def compare_cells(store_cells: list[Cell], against_cells: list[Cell], samples) -> Comparison:
    """`samples(side, cell)` gives a cell's stored samples (side: "store" or "against")."""
    against_by_identity = {cell.identity: cell for cell in against_cells}
    store_identities = {cell.identity for cell in store_cells}
    compared = []
    for cell in order_cells([c for c in store_cells if c.identity in against_by_identity]):
        other = against_by_identity[cell.identity]
        same_problems = all(cell.settings.get(k) == other.settings.get(k) for k in PAIRED_SETTINGS)
        mine, theirs = samples("store", cell), samples("against", other)
        common = {s["problem_id"] for s in mine} & {s["problem_id"] for s in theirs}
        differences = []
        for metric in compared_metrics():
            a, b = metric.value(cell), metric.value(other)
            if same_problems and common:
                field = metric.compared_over
                difference = metrics.paired_difference(_problem_scores(theirs, field), _problem_scores(mine, field))
            else:
                difference = _unpaired(a, b)
            differences.append(Difference(metric.key, a, b, difference, same_problems and bool(common)))
        compared.append(CellComparison(cell.identity, len(common) if same_problems else 0, differences))
    return Comparison(
        compared,
        sorted((i for i in store_identities if i not in against_by_identity), key=CellIdentity.sort_key),
        sorted((i for i in against_by_identity if i not in store_identities), key=CellIdentity.sort_key),
        [*store_cells, *against_cells],
    )


def compared_metrics() -> list[catalogue.Metric]:
    """The catalogue's metrics that are per-problem means of a sample field, which `compare` pairs."""
    return [metric for metric in catalogue.metrics() if metric.compared_over]


def _rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    headers = ["cell", "paired on"]
    for name in (metric.key for metric in compared_metrics()):
        headers += [f"{name} store", f"{name} against", f"{name} store - against [95% CI]"]
    rows = []
    for cell in comparison.cells:
        row = [
            cell.identity.describe(),
            f"{cell.problems_in_common} problems" if cell.problems_in_common else "unpaired",
        ]
        for d in cell.differences:
            digits = catalogue.get(d.metric).digits
            row += [
                format_estimate(d.store, digits=digits),
                format_estimate(d.against, digits=digits),
                format_estimate(d.difference, signed=True, digits=digits),
            ]
        rows.append(row)
    return headers, rows


def _missing(comparison: Comparison) -> list[str]:
    lines = []
    for side, identities in (("store", comparison.only_in_store), ("against", comparison.only_in_against)):
        if identities:
            lines.append(f"only in --{side}: " + "; ".join(i.describe() for i in identities))
    return lines


def render_comparison(comparison: Comparison, fmt: str, store_name: str, against_name: str) -> str:
    headers, rows = _rows(comparison)
    intro = (
        f"store: {store_name}; against: {against_name}. Differences are store - against; paired per problem with a "
        "bootstrap over the problems in common where both cells measured the same problems, otherwise unpaired "
        "(normal interval from both standard errors)."
    )
    if fmt in ("terminal", "markdown"):
        table = tabulate(
            rows, headers=headers, tablefmt="simple" if fmt == "terminal" else "github", disable_numparse=True
        )
        return "\n".join([intro, "", table, *(["", *_missing(comparison)] if _missing(comparison) else [])]) + "\n"
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row" class="text">{html.escape(v)}</th>'
            if i == 0
            else f'<td class="num">{html.escape(v)}</td>'
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    table = (
        f'<div class="table-scroll" tabindex="0" role="region" aria-label="comparison">'
        f'<table class="leaderboard"><caption>{html.escape(store_name)} against {html.escape(against_name)}'
        f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
    missing = "".join(f"<p>{html.escape(line)}</p>" for line in _missing(comparison))
    return page(
        "rac-bench comparison",
        f'<p class="note">{html.escape(intro)}</p>{table}{missing}',
        footer(comparison.measured, git_commit()),
    )


def compare_stores(store_path, against_path: Path, selector) -> tuple[Comparison, str, str]:
    """The selected cells of two stores compared; with the two stores' names."""
    from rac_bench.store import default_store_path, open_store

    if (store_path or default_store_path()).resolve() == against_path.resolve():
        raise ConfigError(f"--store and --against are the same file ({against_path}); give two stores")
    sides, stores = {}, {}
    try:
        for side, path in (("store", store_path), ("against", against_path)):
            stores[side] = open_store(path, read_only=True)
            sides[side] = [c for c in stores[side].latest_cells() if selector.matches(c.identity)]
            if not sides[side]:
                chosen = " for that selection" if selector else ""
                raise StoreError(f"store {stores[side].path} holds no finished cells{chosen}")
        comparison = compare_cells(sides["store"], sides["against"], lambda side, cell: stores[side].samples(cell.key))
    finally:
        for store in stores.values():
            store.close()
    if not comparison.cells:
        raise StoreError(
            f"{stores['store'].path} and {stores['against'].path} share no cell (model, task, method and sparsity); "
            "nothing to compare"
        )
    return comparison, str(stores["store"].path), str(stores["against"].path)

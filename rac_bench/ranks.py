"""Ranks with ties: within each budget group (the cells of one model, task and problem set at the same pattern,
sparsity and bits), which variant is best and which cannot be told apart from it.

The best is the highest accuracy. A member is tied with the best unless some member of the group is better than it
on the same problems: Newcombe's paired interval for the difference of their shares (rac_bench.metrics.
paired_share_difference, method 11) lies above 0 at the Bonferroni level 1 - 0.05 / (k (k - 1) / 2) for the k
members' pairs. Testing every better member, not only the observed best, is what keeps the guarantee under
selection: the chance that any variant as good as the best is marked behind it stays at or below 5% (2.5% in
tests/test_ranks.py's 8 equal variants, where testing against the observed best at 1 - 0.05 / (k - 1) gives 10.5%).
`rank` orders the group by accuracy, 1 the best (equal accuracies share a rank: 1, 1, 3).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace

from rac_bench.catalogue.builtin import quantization_bits
from rac_bench.cells import Cell, CellResults
from rac_bench.metrics import paired_share_difference, per_problem_scores

FAMILY_ERROR = 0.05  # the chance, across a group, of calling a true tie with the best a loss
TEST = "Newcombe's paired interval (method 11) between every two variants of a budget group, Bonferroni over the pairs"


@dataclass(frozen=True)
class Rank:
    rank: int  # by accuracy within the budget group, 1 the best
    tied_with_best: bool  # the best, or not distinguishable from it
    group_size: int  # cells in the budget group


def rank_members(scores: dict[Hashable, dict]) -> dict[Hashable, Rank]:
    """Ranks within one budget group; `scores`: member -> {problem: share in [0, 1]} (per-problem accuracy)."""
    accuracy = {member: sum(by_problem.values()) / len(by_problem) for member, by_problem in scores.items()}
    pairs = len(scores) * (len(scores) - 1) // 2
    confidence = 1 - FAMILY_ERROR / max(pairs, 1)

    def behind(member) -> bool:
        better = (other for other in scores if accuracy[other] > accuracy[member])
        return any(
            paired_share_difference(scores[member], scores[other], confidence=confidence).low > 0 for other in better
        )

    return {
        member: Rank(1 + sum(other > value for other in accuracy.values()), not behind(member), len(scores))
        for member, value in accuracy.items()
    }


def rank_cells(
    cells: Sequence, group: Callable[[object], Hashable], scores: Callable[[object], dict]
) -> dict[Hashable, Rank]:
    """Every cell's Rank by its key: cells grouped by `group(cell)`, each read as `scores(cell)` (per-problem
    accuracy)."""
    groups: dict[Hashable, list] = {}
    for cell in cells:
        groups.setdefault(group(cell), []).append(cell)
    ranks = {}
    for members in groups.values():
        by_key = {cell.key: scores(cell) for cell in members}
        ranks.update(rank_members(by_key))
    return ranks


def budget_group(cell: Cell) -> tuple:
    """What a cell is ranked against: the cells of its model, task and problem set (data, limit, problems, samples)
    at the same pattern, sparsity and bits."""
    identity, settings = cell.identity, cell.settings
    problems = (str(settings.get("data")), settings.get("limit") or 0, cell.results.problems, cell.results.samples)
    return (identity.model, identity.task, problems, identity.pattern, identity.sparsity, quantization_bits(cell))


def with_ranks(cells: list[Cell], samples: dict[str, list[dict]]) -> list[Cell]:
    """The cells with `rank` and `tied_with_best` among their results; `samples`: each cell's samples by its key."""

    def accuracy_by_problem(cell: Cell) -> dict:
        records = samples[cell.key]
        problems = [r.get("problem_id", r.get("doc_id")) for r in records]  # as evaluation names them: id, else doc_id
        return per_problem_scores(problems, [float(r["correct"]) for r in records])

    graded = [c for c in cells if samples.get(c.key) and all("correct" in r for r in samples[c.key])]
    ranks = rank_cells(graded, budget_group, accuracy_by_problem)
    return [
        replace(cell, results=CellResults({**cell.results, "rank": ranks[cell.key].rank,
                                           "tied_with_best": ranks[cell.key].tied_with_best}))
        if cell.key in ranks else cell
        for cell in cells
    ]

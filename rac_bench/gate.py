"""The regression gate: a run's cells against a baseline, cell by cell, on each metric asked, in its direction.
A higher-is-better metric (accuracy, accuracy_completed, pass@k, maj@k, top1_agreement) regressed when its value
falls below the baseline's 95% interval, or with an explicit tolerance below the baseline's value minus the
tolerance; a lower-is-better one (thinking_ratio, truncation, self_corrections, kl) regressed when it rises above
the interval (or the value plus the tolerance): a change that makes a pruned model ramble fails the gate.
Metrics compared with dense (thinking_ratio, kl, top1_agreement) are skipped for dense's own cells.

Which cells exist and how they were measured must match: a mismatch is bad input (exit 2), not a regression.
"""

from __future__ import annotations

from dataclasses import dataclass

from rac_bench.cells import Cell
from rac_bench.errors import StoreError
from rac_bench.leaderboard.baseline import BaselineCell, cell_metrics, comparable_settings
from rac_bench.metrics import Estimate

LOWER_IS_BETTER = ("thinking_ratio", "truncation", "self_corrections", "kl")


@dataclass(frozen=True)
class Comparison:
    cell: str
    metric: str
    baseline: Estimate
    current: Estimate
    threshold: float
    regressed: bool


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def _threshold(metric: str, baseline: Estimate, tolerance: float | None) -> float:
    if higher_is_better(metric):
        return baseline.low if tolerance is None else baseline.value - tolerance
    return baseline.high if tolerance is None else baseline.value + tolerance


def _regressed(metric: str, value: float, threshold: float) -> bool:
    return value < threshold if higher_is_better(metric) else value > threshold


def _matched(baseline: list[BaselineCell], current: list[Cell]) -> list[tuple[BaselineCell, Cell]]:
    base = {cell.identity: cell for cell in baseline}
    run = {cell.identity: cell for cell in current}
    missing = sorted(set(base) - set(run), key=lambda i: i.sort_key())
    extra = sorted(set(run) - set(base), key=lambda i: i.sort_key())
    if missing:
        raise StoreError(
            f"the run lacks {len(missing)} baseline cell(s), e.g. {missing[0].describe()}; "
            "run the baseline's configuration or make a new baseline"
        )
    if extra:
        raise StoreError(
            f"the run has {len(extra)} cell(s) the baseline lacks, e.g. {extra[0].describe()}; "
            "gate a run of the baseline's configuration or make a new baseline"
        )
    return [(base[identity], run[identity]) for identity in sorted(base, key=lambda i: i.sort_key())]


def _check_comparable(base: BaselineCell, run: Cell) -> None:
    run_settings = comparable_settings(run.settings)
    for name, value in run_settings.items():
        if base.settings.get(name) != value:
            raise StoreError(
                f"{base.identity.describe()} was measured with {name}={base.settings.get(name)!r} in the baseline "
                f"but {value!r} in the run; the cells are not comparable"
            )


def compare(
    baseline: list[BaselineCell], current: list[Cell], metrics: list[str], tolerance: float | None
) -> list[Comparison]:
    """Every baseline cell against the run's cell of the same identity, on each metric."""
    comparisons = []
    for base, run in _matched(baseline, current):
        _check_comparable(base, run)
        for metric in metrics:
            base_value, run_value = base.metrics.get(metric), cell_metrics(run).get(metric)
            if base_value is None and run_value is None and base.identity.is_dense:
                continue  # a comparison with dense says nothing of dense itself
            if base_value is None or run_value is None:
                available = ", ".join(sorted(base.metrics))
                raise StoreError(
                    f"metric {metric!r} is not measured for {base.identity.describe()}; available: {available}"
                )
            threshold = _threshold(metric, base_value, tolerance)
            regressed = _regressed(metric, run_value.value, threshold)
            comparisons.append(
                Comparison(base.identity.describe(), metric, base_value, run_value, threshold, regressed)
            )
    return comparisons


def unfailable(comparisons: list[Comparison]) -> list[Comparison]:
    """Comparisons whose threshold no value can cross: a floor below 0 for a metric that cannot go below it (a
    tolerance larger than the baseline value lets an accuracy of 0 pass)."""
    return [c for c in comparisons if higher_is_better(c.metric) and c.threshold < 0]

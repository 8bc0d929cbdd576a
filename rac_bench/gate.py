"""The regression gate: a run's cells against a baseline, cell by cell, on each metric asked, in the direction the
catalogue declares (rac_bench.catalogue). A higher-is-better metric regressed when its value falls below the
baseline's 95% interval, or with an explicit tolerance below the baseline's value minus the tolerance; a
lower-is-better one regressed when it rises above the interval (or the value plus the tolerance): a change that
makes a pruned model ramble fails the gate. Metrics measured against dense are skipped for dense's own cells.

Which cells exist and how they were measured must match: a mismatch is bad input (exit 2), not a regression.
"""

from __future__ import annotations

from dataclasses import dataclass

from tabulate import tabulate

from rac_bench import catalogue
from rac_bench.cells import Cell
from rac_bench.errors import ConfigError, StoreError
from rac_bench.leaderboard.baseline import BaselineCell, comparable_settings
from rac_bench.leaderboard.rows import format_estimate
from rac_bench.metrics import Estimate


@dataclass(frozen=True)
class Comparison:
    cell: str
    metric: str
    baseline: Estimate
    current: Estimate
    threshold: float
    regressed: bool


def higher_is_better(metric: str) -> bool:
    declared = catalogue.gated_metric(metric)
    return declared is None or declared.direction != "lower"


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
            base_value, run_value = base.metrics.get(metric), catalogue.gated_values(run).get(metric)
            declared = catalogue.gated_metric(metric)
            against_dense = declared is not None and declared.versus_dense
            if base.identity.is_dense and (against_dense or (base_value is None and run_value is None)):
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


@dataclass(frozen=True)
class GateReport:
    table: str  # what the terminal shows: a row per check, then the verdict
    warnings: list[str]  # checks that cannot fail
    regressed: int


def gate_store(baseline_path, store_path, metrics: list[str], tolerance: float | None, selector) -> GateReport:
    """The selected baseline cells against the store's latest cells of the same identities."""
    from rac_bench.leaderboard.baseline import load_baseline
    from rac_bench.store import open_store

    if tolerance is not None and not 0 <= tolerance < float("inf"):
        raise ConfigError(f"--tolerance must be a number >= 0, got {tolerance}")
    baseline = [cell for cell in load_baseline(baseline_path) if selector.matches(cell.identity)]
    if not baseline:
        raise ConfigError(
            f"baseline {baseline_path} holds no cell for that selection; check --model, --tasks, --methods"
        )
    store = open_store(store_path, read_only=True)
    try:
        models = sorted({cell.identity.model for cell in baseline})
        cells = store.latest_cells(models, sorted({cell.identity.task for cell in baseline}))
        if not cells:
            raise StoreError(f"store {store.path} holds no finished cells for that selection")
    finally:
        store.close()
    comparisons = compare(baseline, [cell for cell in cells if selector.matches(cell.identity)], metrics, tolerance)
    return _report(comparisons, metrics, tolerance)


def _report(comparisons: list[Comparison], metrics: list[str], tolerance: float | None) -> GateReport:
    rows = [
        [c.cell, c.metric, format_estimate(c.baseline), format_estimate(c.current), f"{c.threshold:.3f}"]
        + ["REGRESSED" if c.regressed else "ok"]
        for c in comparisons
    ]
    rule = "baseline value -/+ tolerance" if tolerance is not None else "baseline 95% CI bound"
    headers = ["cell", "metric", "baseline", "run", f"threshold ({rule})", "status"]
    floor_from = f"--tolerance {tolerance:g}" if tolerance is not None else "the baseline's 95% CI"
    warnings = [
        f"{floor_from} puts the floor of {c.metric} for {c.cell} at {c.threshold:.3f}, below 0: that check cannot fail"
        for c in unfailable(comparisons)
    ]
    regressed = sum(c.regressed for c in comparisons)
    checks = f"{len(rows)} checks ({len({c.cell for c in comparisons})} cells x {', '.join(metrics)})"
    verdict = f"{regressed} of {checks} regressed" if regressed else f"all {checks} pass"
    table = tabulate(rows, headers=headers, disable_numparse=True)
    return GateReport(f"{table}\n\n{verdict}", warnings, regressed)

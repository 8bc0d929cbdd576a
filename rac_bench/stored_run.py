"""What every run ends with, read from the store: its cells ranked, its outputs written, its table; and a rerun
whose every cell is already in the store, answered from the store alone (no torch, no model load: issue 32).

A rerun finds its cells by the same keys a run computes: the plan's variant fingerprints (each method's code, its
settings) over the dense model's fingerprint, which rac_bench.dense_fingerprints remembers by the model's files.
When a key is missing (other code, other weights, a model never loaded here) the run goes the long way."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from rac_bench.cells import Cell
from rac_bench.dense_fingerprints import remembered
from rac_bench.outputs import write_outputs
from rac_bench.provenance import installed_packages, provenance
from rac_bench.ranks import with_ranks
from rac_bench.store import Store, check_store, finished_keys, open_store

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    output_dir: Path
    cells: list[Cell]
    table: str


def config_record(config) -> dict:
    return asdict(config, dict_factory=lambda items: {k: str(v) if isinstance(v, Path) else v for k, v in items})


def finish_run(
    config, store: Store, run_id: str, keys: list[str], command: str, run_provenance: dict, threads: int | None
) -> RunResult:
    """Close the run's record, rank its cells and write its outputs (`threads`: torch's, None when none ran)."""
    store.finish_run(run_id)
    samples_by_cell = {key: store.samples(key) for key in keys}
    cells = with_ranks([store.cell(key) for key in keys], samples_by_cell)
    samples = [sample for key in keys for sample in samples_by_cell[key]]
    summary = {
        "config": config_record(config),
        "command": command,
        "threads": threads,
        "provenance": {**run_provenance, "installed_packages": list(installed_packages())},
    }
    table = write_outputs(config.output_dir, cells, samples, summary)
    return RunResult(config.output_dir, cells, table)


def stored_keys(plan) -> list[str] | None:
    """Every cell key of the plan, in the order a run makes them, when the store holds them all; else None."""
    execution = plan.config.execution
    if not execution.resume or execution.rebuild:
        return None
    keys = []
    for model in plan.models:
        dense = remembered(model, execution.dtype, execution.cache_dir)
        if dense is None:
            return None
        keys += [key for variant in plan.variants for key in plan.cell_keys(variant.fingerprint(dense)).values()]
    return keys if len(finished_keys(execution.store, keys)) == len(keys) else None


def run_from_store(plan, command: str) -> RunResult | None:
    """The run's result from its stored cells, each stamped as reused (the latest the leaderboard and gate read),
    or None when a cell is missing."""
    config = plan.config
    check_store(config.execution.store)
    keys = stored_keys(plan)
    if keys is None:
        return None
    for variant in plan.variants:  # as a run that loads the model says it
        log.info("%s %s: every cell is in the store; skipped", variant.method, variant.target.label)
    log.info("every cell is in the store: the model is not loaded")
    store = open_store(config.execution.store)
    try:
        run_provenance = provenance()
        run_id = store.start_run(command, config_record(config), run_provenance)
        store.reuse_cells(keys)
        return finish_run(config, store, run_id, keys, command, run_provenance, threads=None)
    finally:
        store.close()

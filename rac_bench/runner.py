"""Execute a plan: for each model, each variant is built (pruned once, or reused) and evaluated on every task,
each cell stored as it finishes (resumable), then the run's outputs are written from the store.

Where the variants run is the executor's business (see rac_bench.executors, chosen by the CLI): it is handed
to `run` and calls back `run_variant` for each variant, in this process or on a Ray worker.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch

from rac_bench.backends import ModelHandle, create_backend, release_engines
from rac_bench.cells import Cell, CellIdentity, CellResults
from rac_bench.dense_model import DenseModel
from rac_bench.evaluation import evaluate_task
from rac_bench.outputs import write_outputs
from rac_bench.plan import Plan, TaskPlan, Variant
from rac_bench.provenance import installed_packages, provenance
from rac_bench.store import Store, check_store, finished_keys, open_store
from rac_bench.tasks import get_task
from rac_bench.threads import set_threads
from rac_bench.validation import check_run_inputs
from rac_bench.variants import BuiltVariant, build_variant
from rac_bench.versus_dense import drift_from_dense, versus_dense

log = logging.getLogger(__name__)

# (store, run id) -> the keys of the cells it finished; made by an executor once a model's inputs are checked
ModelJob = Callable[[Store, str], list[str]]


class Executor(Protocol):
    def prepare(self, plan: Plan, model: str | None) -> ModelJob:
        """Check (and, locally, load) what the model's variants need; raise on bad input, write nothing."""


@dataclass
class RunResult:
    output_dir: Path
    cells: list[Cell]
    table: str


def run(plan: Plan, executor: Executor, command: str = "") -> RunResult:
    """Evaluate every cell of the plan, skipping those the store already holds (when resuming), and write the
    run's outputs from the store. The store is opened only after the first model's inputs are checked."""
    config = plan.config
    check_run_inputs(config)  # task data, model configs, N:M fit: a failure after the first write leaves cells
    check_store(config.execution.store)  # a foreign or unwritable store fails now; a new one is created later
    store, keys, run_provenance = None, [], provenance()
    try:
        for model in plan.models:
            try:
                job = executor.prepare(plan, model)
                if store is None:
                    store = open_store(config.execution.store)
                    run_id = store.start_run(command, _config_record(config), run_provenance)
                keys += job(store, run_id)
            finally:
                release_engines()  # one engine per model: the traces' and every variant's
        store.finish_run(run_id)
        cells = [store.cell(key) for key in keys]
        samples = [sample for key in keys for sample in store.samples(key)]
    finally:
        if store is not None:
            store.close()
    summary = {
        "config": _config_record(config),
        "command": command,
        "threads": torch.get_num_threads(),
        "provenance": {**run_provenance, "installed_packages": installed_packages()},
    }
    table = write_outputs(config.output_dir, cells, samples, summary)
    return RunResult(config.output_dir, cells, table)


def _config_record(config) -> dict:
    return asdict(config, dict_factory=lambda items: {k: str(v) if isinstance(v, Path) else v for k, v in items})


def run_variant(
    plan: Plan, store: Store, run_id: str, dense: DenseModel, variant: Variant, built: BuiltVariant | None = None
) -> list[str]:
    """Build (or reuse) one model variant and evaluate its unfinished cells, each stored as it finishes.
    Returns the keys of all its cells. Dense's cells must be finished first: the deltas pair with them.
    `built`: the variant as an executor built it before the run wrote anything."""
    config = plan.config
    keys = plan.cell_keys(variant.fingerprint(dense.fingerprint))
    dense_keys = plan.cell_keys(plan.dense.fingerprint(dense.fingerprint))
    pending = [task for task in plan.tasks if not (config.execution.resume and store.cell(keys[task.name]))]
    if not pending:
        log.info("%s %s: every cell is in the store; skipped", variant.method, variant.target.label)
        return list(keys.values())
    built = built or build_variant(variant, dense, config)
    path = str(built.checkpoint) if built.checkpoint else dense.path
    set_threads(config.execution.threads, built.model)  # the cores free now (a small model keeps one)
    backend = create_backend(ModelHandle(built.model, dense.tokenizer, path), config.execution)
    run_provenance = provenance()
    evaluations = {}
    try:
        for task in pending:
            log.info("evaluating %s %s on %s", variant.method, variant.target.label, task.name)
            generations = store.generation_log(keys[task.name], config.execution.resume)
            evaluations[task.name] = evaluate_task(
                backend, dense.tokenizer, get_task(task.name), config.evaluation, config.seed, generations
            )
    finally:
        backend.close()  # frees the device the engine holds before drift puts both models on it
    for task in pending:
        samples = [_labelled(variant, record) for record in evaluations[task.name].samples]
        dense_cell = None if variant.is_dense else store.cell(dense_keys[task.name])
        comparisons = _versus_dense(store.samples(dense_cell.key), samples, dense, built, config) if dense_cell else {}
        drift = comparisons.pop("drift", None)  # the rest are results measured against dense
        cell = Cell(
            key=keys[task.name],
            run_id=run_id,
            identity=_identity(dense, variant, task),
            model_fingerprint=dense.fingerprint,
            variant_fingerprint=built.fingerprint,
            settings=plan.cell_settings(variant, task),
            backend=backend.name,
            engine_startup_seconds=backend.startup_seconds,
            provenance=run_provenance,
            results=CellResults({**evaluations[task.name].results, **comparisons}),
            drift=drift,
            achieved_sparsity=built.achieved,
            **_origin(built, dense, variant),
        )
        store.add_cell(cell, samples)
    return list(keys.values())


def variants_to_build(plan: Plan, dense: DenseModel) -> list[Variant]:
    """The pruned variants with a cell the run will evaluate (all of them, unless resuming from the store)."""
    config = plan.config
    if not config.execution.resume:
        return [variant for variant in plan.variants if not (variant.is_dense or variant.is_outside)]
    unfinished = []
    for variant in (v for v in plan.variants[1:] if not v.is_outside):
        keys = list(plan.cell_keys(variant.fingerprint(dense.fingerprint)).values())
        if len(finished_keys(config.execution.store, keys)) < len(keys):
            unfinished.append(variant)
    return unfinished


def _identity(dense: DenseModel, variant: Variant, task: TaskPlan) -> CellIdentity:
    return CellIdentity(dense.name, task.name, variant.method, variant.pattern, variant.target.sparsity)


def _origin(built: BuiltVariant, dense: DenseModel, variant: Variant) -> dict:
    """Where a cell's model came from: its checkpoint, pruning report and times."""
    source = variant.spec.source
    return {
        "checkpoint": str(built.checkpoint) if built.checkpoint else None,
        "pruning": built.report,
        "prune_seconds": built.report["prune_seconds"] if built.report else 0.0,
        "calibration_seconds": dense.calibration.seconds.get(source.name, 0.0) if source else 0.0,
    }


def _labelled(variant: Variant, record: dict) -> dict:
    target = variant.target
    return {"method": variant.method, "pattern": target.pattern, "sparsity": target.sparsity, **record}


def _versus_dense(
    dense_samples: list[dict], samples: list[dict], dense: DenseModel, built: BuiltVariant, config
) -> dict:
    """The cell's accuracy difference and thinking ratio against dense, and its drift from dense."""
    responses, device = config.evaluation.drift_responses, config.execution.device
    drift = drift_from_dense(dense.model, built.model, dense.tokenizer, dense_samples, responses, device)
    return {**versus_dense(dense_samples, samples), "drift": drift}

"""Execute a plan: for each model, each variant is built (pruned once, or reused) and evaluated on every task,
each cell stored as it finishes (resumable), then the run's outputs are written from the store.

Where and in what order the variants run is the executor's business (rac_bench.executors, chosen by the CLI): it
is handed to `run`, and its jobs call this module's pieces (`run_variant`, or `evaluate_variant`, `variant_drift` and
`store_variant` apart) in this process, a forked worker or on a Ray worker.
"""

from __future__ import annotations

import logging

import torch

from rac_bench.backends import ModelHandle, create_backend, release_engines
from rac_bench.cost import weight_bytes
from rac_bench.dense_model import DenseModel
from rac_bench.evaluation import evaluate_task
from rac_bench.packing import served_weights
from rac_bench.plan import Plan, Variant
from rac_bench.provenance import provenance
from rac_bench.variant_cells import VariantEvaluation, dense_samples, store_variant
from rac_bench.store import Store, check_store, finished_keys, open_store
from rac_bench.stored_run import RunResult, config_record, finish_run
from rac_bench.tasks import get_task
from rac_bench.threads import set_threads
from rac_bench.validation import check_run_inputs
from rac_bench.variants import BuiltVariant, build_variant
from rac_bench.versus_dense import drift_from_dense

log = logging.getLogger(__name__)


def run(plan: Plan, executor, command: str = "") -> RunResult:
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
                    run_id = store.start_run(command, config_record(config), run_provenance)
                keys += job(store, run_id)
            finally:
                release_engines()  # one engine per model: the traces' and every variant's
        return finish_run(config, store, run_id, keys, command, run_provenance, torch.get_num_threads())
    finally:
        if store is not None:
            store.close()


def run_variant(
    plan: Plan, store: Store, run_id: str, dense: DenseModel, variant: Variant, built: BuiltVariant | None = None
) -> list[str]:
    """Build (or reuse) one model variant and evaluate its unfinished cells, each stored as it finishes.
    Returns the keys of all its cells. Dense's cells must be finished first: the deltas pair with them.
    `built`: the variant as an executor built it before the run wrote anything."""
    config = plan.config
    keys = plan.cell_keys(variant.fingerprint(dense.fingerprint))
    reusable = config.execution.resume and not (config.execution.rebuild and not variant.is_dense)
    pending = [task for task in plan.tasks if not (reusable and store.cell(keys[task.name]))]
    store.reuse_cells([keys[task.name] for task in plan.tasks if task not in pending])  # now the latest
    if not pending:
        log.info("%s %s: every cell is in the store; skipped", variant.method, variant.target.label)
        return list(keys.values())
    dense.check_unchanged(weights=variant.is_dense)  # a method may not change the dense row or the prompts
    built = built or build_variant(variant, dense, config)
    logs = {task.name: store.generation_log(keys[task.name], config.execution.resume) for task in pending}
    evaluation = evaluate_variant(plan, dense, variant, built, pending, logs)
    if not variant.is_dense:
        paired = {task.name: dense_samples(plan, store, dense, task) for task in pending}
        evaluation.drift = variant_drift(plan, dense, built, paired)
    store_variant(plan, store, run_id, dense, variant, evaluation)
    return list(keys.values())


def evaluate_variant(
    plan: Plan, dense: DenseModel, variant: Variant, built: BuiltVariant, tasks, logs: dict | None = None,
    progress: bool = True,
) -> VariantEvaluation:
    """Generate and score one built variant on `tasks` (`logs`: each task's resumable generation log)."""
    config = plan.config
    path, execution = served_weights(built, variant, config.execution, config.pruning)
    path = path or dense.path
    set_threads(config.execution.threads, built.model)  # the cores free now (a small model keeps one)
    backend = create_backend(ModelHandle(built.model, dense.tokenizer, path), config.execution)
    evaluations = {}
    try:
        for task in tasks:
            log.info("evaluating %s %s on %s", variant.method, variant.target.label, task.name)
            evaluations[task.name] = evaluate_task(
                backend,
                dense.tokenizer,
                get_task(task.name),
                config.evaluation,
                config.seed,
                (logs or {}).get(task.name),
                progress,
            )
    finally:
        backend.close()  # frees the device the engine holds before drift puts both models on it
    served_bytes = weight_bytes(path, built.model)
    return VariantEvaluation(built, evaluations, backend.name, backend.startup_seconds, execution, served_bytes)


def variant_drift(plan: Plan, dense: DenseModel, built: BuiltVariant, dense_samples: dict[str, list[dict]]) -> dict:
    """Each task's drift of a pruned variant from dense, teacher-forced on dense's responses (`dense_samples`)."""
    config = plan.config
    responses, device = config.evaluation.drift_responses, config.execution.device
    return {
        task: drift_from_dense(dense.model, built.model, dense.tokenizer, samples, responses, device)
        for task, samples in dense_samples.items()
    }


def variants_to_build(plan: Plan, dense: DenseModel) -> list[Variant]:
    """The pruned variants and outside checkpoints with a cell the run will evaluate (all of them, unless resuming
    from the store): built, or loaded and checked, before the run writes anything."""
    config = plan.config
    if not config.execution.resume or config.execution.rebuild:  # --rebuild re-prunes whatever the store holds
        return [variant for variant in plan.variants if not variant.is_dense]
    unfinished = []
    for variant in plan.variants[1:]:
        keys = list(plan.cell_keys(variant.fingerprint(dense.fingerprint)).values())
        if len(finished_keys(config.execution.store, keys)) < len(keys):
            unfinished.append(variant)
    return unfinished

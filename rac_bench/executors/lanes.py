"""Two lanes for a small model on a machine with a core to spare: a worker process, forked once the dense model is
loaded, evaluates dense while this process samples traces and prunes, then every other pruned variant; this process
evaluates the rest, then computes every variant's drift from dense while the worker may still be evaluating. A small
model computes on one thread (rac_bench.threads), so one variant's evaluation cannot use the second core, and a
whole default run would leave it idle.

Scheduling is static and in plan order (the worker takes dense and the 1st, 3rd, ... pruned variant; this process
prunes those first, so the worker never waits long), and only for a run with no cell in the store yet: a resumed run
takes the one-lane path, with its chunk-level resume. Nothing is written until every variant is built and evaluated;
then dense's cells and each variant's are stored in plan order, exactly as the one-lane path stores them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from rac_bench.checkpoints import load_weights
from rac_bench.dense_model import DenseModel
from rac_bench.executors import ModelJob
from rac_bench.plan import Plan, Variant
from rac_bench.runner import evaluate_variant, variant_drift
from rac_bench.variant_cells import VariantEvaluation, store_variant
from rac_bench.store import default_store_path, open_store
from rac_bench.threads import SMALL_MODEL_PARAMETERS
from rac_bench.variants import BuiltVariant, build_variant

_WORKER: dict = {}  # the worker's plan and dense model, inherited through the fork


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def two_lanes_fit(plan: Plan, dense: DenseModel) -> bool:
    """A fresh run (nothing of it in the store: no cell, no generated chunk) of a small model on the CPU through HF,
    with pruned variants to evaluate, the torch threads left to rac-bench (`--threads` takes the cores into the
    user's hands), two cores and fork."""
    execution = plan.config.execution
    small = sum(p.numel() for p in dense.model.parameters()) < SMALL_MODEL_PARAMETERS
    if not (small and len(plan.variants) > 1 and execution.threads is None and _cores() > 1):
        return False
    if execution.backend != "hf" or execution.device != "cpu" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    keys = [key for v in plan.variants for key in plan.cell_keys(v.fingerprint(dense.fingerprint)).values()]
    return not execution.resume or not _anything_stored(execution.store, keys)


def _anything_stored(path, keys: list[str]) -> bool:
    """Whether the store holds a finished cell or a generated chunk of any of `keys` (a killed run's)."""
    path = Path(path if path is not None else default_store_path())
    if not path.exists():
        return False
    store = open_store(path, read_only=True)
    try:
        return any(store.cell(key) is not None or store.generations(key) for key in keys)
    finally:
        store.close()


def _own_progress_lock() -> None:
    """Give the worker's progress bars a lock of its own. tqdm's default lock holds a semaphore shared with every
    process forked after it was made: a worker stopped while drawing a bar (`_stop`) would leave it held, and this
    process's next bar would wait forever (CI hung so, a run after a refused one in the same process). A thread of
    this process may also hold the lock's copy at the fork, and nothing in the worker would ever release it."""
    classes = [tqdm]
    while classes:
        cls = classes.pop()
        if "_lock" in vars(cls) or cls is tqdm:
            cls.set_lock(threading.RLock())
        classes += cls.__subclasses__()


def _start_worker() -> None:
    """The worker logs and draws nothing: its lines would interleave with this process's, and outlive a failed
    run's one-line error (its exceptions come back through its futures, its results are logged here)."""
    _own_progress_lock()
    logging.disable(logging.INFO)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the worker's whole life)
    os.dup2(sys.stderr.fileno(), 2)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the worker now, even mid-evaluation (after a failure here its work is moot; after success it is idle):
    the pool's own shutdown would let a running evaluation finish before the process can exit."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on the pool's processes
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _evaluate_in_worker(variant: Variant, built: BuiltVariant | None) -> VariantEvaluation:
    """In the worker: dense (built here from the inherited model), or a pruned variant read from its checkpoint,
    evaluated on every task."""
    plan, dense = _WORKER["plan"], _WORKER["dense"]
    if built is None:
        built = build_variant(variant, dense, plan.config)
    else:
        built.model = load_weights(built.checkpoint, dense.model.dtype)
    evaluation = evaluate_variant(plan, dense, variant, built, plan.tasks, progress=False)
    evaluation.built = replace(built, model=None)  # the model stays here: the parent has its own
    return evaluation


def two_lane_job(plan: Plan, dense: DenseModel) -> ModelJob:
    """Fork the worker and start dense on it, then prune every variant here (the worker's first) and queue the
    worker's; the job evaluates this lane's variants, then stores every cell. Variants are named by their place in
    the plan (0: dense)."""
    config, variants = plan.config, plan.variants
    theirs, ours = list(range(1, len(variants), 2)), list(range(2, len(variants), 2))
    _WORKER.update(plan=plan, dense=dense)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker)
    futures: dict[int, Future] = {}
    built: dict[int, BuiltVariant] = {}
    try:
        futures[0] = pool.submit(_evaluate_in_worker, variants[0], None)
        for index in theirs + ours:
            built[index] = build_variant(variants[index], dense, config)
            if index in theirs:
                futures[index] = pool.submit(_evaluate_in_worker, variants[index], replace(built[index], model=None))
        dense.check_unchanged(weights=True)  # no method reached the dense model: checked before the first write
    except BaseException:
        _stop(pool)
        raise

    def job(store, run_id: str) -> list[str]:
        dense.remember(config)
        try:
            evaluations = {i: evaluate_variant(plan, dense, variants[i], built[i], plan.tasks) for i in ours}
            dense_samples = {task: done.samples for task, done in futures[0].result().evaluations.items()}
            drifts = {i: variant_drift(plan, dense, built[i], dense_samples) for i in ours + theirs}
            evaluations.update({index: future.result() for index, future in futures.items()})
            for index, drift in drifts.items():
                evaluations[index].drift = drift
        finally:
            _stop(pool)
        keys = []
        for index, variant in enumerate(variants):
            store_variant(plan, store, run_id, dense, variant, evaluations[index])
            keys += plan.cell_keys(variant.fingerprint(dense.fingerprint)).values()
        return keys

    return job

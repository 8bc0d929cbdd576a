"""A variant's evaluations as cells of the results store: each task's cell with its identity, settings, origin and
its comparison with dense's cell of the same task (accuracy difference, thinking ratio, drift). Whichever lane or
worker evaluated the variant, its cells are made here, the same way."""

from __future__ import annotations

from dataclasses import dataclass, field

from rac_bench.cells import Cell, CellIdentity, CellResults, Drift
from rac_bench.cost import cost_record
from rac_bench.dense_model import DenseModel
from rac_bench.evaluation import TaskEvaluation
from rac_bench.plan import Plan, TaskPlan, Variant
from rac_bench.provenance import provenance
from rac_bench.scoring.thinking import thinking_rule
from rac_bench.store import Store
from rac_bench.variants import BuiltVariant
from rac_bench.versus_dense import versus_dense


@dataclass
class VariantEvaluation:
    """One variant's evaluations on the tasks it had pending, and its drift from dense on each, made wherever the
    executor placed the work; `store_variant` turns them into cells."""

    built: BuiltVariant
    evaluations: dict[str, TaskEvaluation]
    backend: str
    startup_seconds: float
    execution: dict = field(default_factory=dict)  # how the weights were served: dense, simulated, smaller or packed
    weight_bytes: int | None = None  # bytes of the weights as served
    drift: dict[str, Drift | None] = field(default_factory=dict)


def store_variant(
    plan: Plan, store: Store, run_id: str, dense: DenseModel, variant: Variant, evaluation: VariantEvaluation
) -> None:
    """A variant's evaluated tasks as cells in the store, each paired with dense's cell of the same task."""
    keys = plan.cell_keys(variant.fingerprint(dense.fingerprint))
    built, run_provenance = evaluation.built, provenance()
    for task in (t for t in plan.tasks if t.name in evaluation.evaluations):
        samples = [_labelled(variant, record) for record in evaluation.evaluations[task.name].samples]
        paired = [] if variant.is_dense else dense_samples(plan, store, dense, task)
        comparisons = versus_dense(paired, samples) if paired else {}  # results measured against dense
        results = evaluation.evaluations[task.name].results
        dense_cell = None if variant.is_dense else store.cell(dense_key(plan, dense, task))
        cost = cost_record(results, dense_cell.results if dense_cell else None, evaluation.weight_bytes)
        cell = Cell(
            key=keys[task.name],
            run_id=run_id,
            identity=_identity(dense, variant, task),
            model_fingerprint=dense.fingerprint,
            variant_fingerprint=built.fingerprint,
            settings={**plan.cell_settings(variant, task), "thinking": thinking_rule(dense.tokenizer)},
            backend=evaluation.backend,
            engine_startup_seconds=evaluation.startup_seconds,
            provenance=run_provenance,
            results=CellResults({**results, **comparisons}),
            drift=evaluation.drift.get(task.name) if paired else None,
            achieved_sparsity=built.achieved,
            execution=evaluation.execution,
            cost=cost,
            **_origin(built, dense, variant),
        )
        store.add_cell(cell, samples)


def dense_key(plan: Plan, dense: DenseModel, task: TaskPlan) -> str:
    return plan.cell_keys(plan.dense.fingerprint(dense.fingerprint))[task.name]


def dense_samples(plan: Plan, store: Store, dense: DenseModel, task: TaskPlan) -> list[dict]:
    key = dense_key(plan, dense, task)
    return store.samples(key) if store.cell(key) else []


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

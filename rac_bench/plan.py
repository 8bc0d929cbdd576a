"""The plan of a run, built once from its config: the model variants (method spec x sparsity target, dense
first) and the tasks, each with its settings computed once (data revisions and calibration files are hashed
here, once). The local executor, the Ray executor and `--dry-run` all consume the same plan.

A cell is one variant of one model on one task. Its key is a fingerprint of everything that can change its
numbers, so equal keys mean the cell can be reused and different ones mean it must not be.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

from rac_bench.backends import backend_identity
from rac_bench.config import RunConfig
from rac_bench.fingerprint import directory_fingerprint, fingerprint
from rac_bench.methods.base import COMPRESSED, DENSE, OUTSIDE
from rac_bench.methods.code import method_code
from rac_bench.methods.spec import MethodSpec, parse_method_spec
from rac_bench.pruning.target import SparsityTarget
from rac_bench.scoring.thinking import THINKING_RULE
from rac_bench.task_data import data_revision
from rac_bench.tasks import get_task, task_definition

log = logging.getLogger(__name__)

DENSE_TARGET = SparsityTarget(0.0)


@dataclass(frozen=True)
class Variant:
    """One compressed model: the unit that is pruned once and evaluated on every task."""

    spec: MethodSpec
    target: SparsityTarget
    settings: dict  # everything besides the dense model's weights that decides the variant's weights

    @property
    def method(self) -> str:
        """The method spec as written: the label in results."""
        return self.spec.label

    @property
    def kind(self) -> str:
        """DENSE, COMPRESSED or OUTSIDE (rac_bench.methods.base), as its method declares."""
        return self.spec.kind

    @property
    def is_dense(self) -> bool:
        return self.kind == DENSE

    @property
    def is_outside(self) -> bool:
        """A checkpoint saved by another tool, loaded rather than pruned."""
        return self.kind == OUTSIDE

    @property
    def is_structured(self) -> bool:
        """Made smaller (layers, channels or experts removed) rather than zeroed or quantized in dense shapes."""
        return getattr(self.spec.method, "structured", False)

    @property
    def pattern(self) -> str:
        """The pattern in the cell's identity: an outside checkpoint claims none."""
        return "checkpoint" if self.is_outside else self.target.pattern

    @property
    def calibration(self) -> dict | None:
        return self.settings["calibration"]

    def fingerprint(self, model_fingerprint: str) -> str:
        return fingerprint({"model": model_fingerprint, **self.settings})


@dataclass(frozen=True)
class TaskPlan:
    name: str
    settings: dict  # everything besides the model variant that can change a cell's numbers


@dataclass(frozen=True)
class Plan:
    config: RunConfig
    variants: tuple[Variant, ...]  # dense first: every other cell's delta pairs with its samples
    tasks: tuple[TaskPlan, ...]

    @property
    def models(self) -> list[str | None]:
        return self.config.model

    @property
    def dense(self) -> Variant:
        return self.variants[0]

    def cell_keys(self, variant_fingerprint: str) -> dict[str, str]:
        """A variant's cell key for each task: equal keys are the same measurement."""
        return {
            task.name: fingerprint({"variant": variant_fingerprint, "evaluation": task.settings}) for task in self.tasks
        }

    def cell_settings(self, variant: Variant, task: TaskPlan) -> dict:
        """What a cell records of how it was measured."""
        quantization = variant.target.quantization
        return {
            **task.settings,
            "calibration": variant.calibration,
            "ignore": self.config.pruning.ignore,
            "quantization": asdict(quantization) if quantization else None,
        }


def calibration_fingerprint(spec: MethodSpec, config: RunConfig) -> dict | None:
    """Everything that decides a variant's calibration tokens and their weights."""
    if spec.source is None:
        return None
    calibration = spec.source.fingerprint(config.calibration, config.calibration_seed, config.data_dir)
    if spec.source.generated_tokens:
        calibration["cot_weight"] = config.calibration.cot_weight
    if spec.source.samples_with_backend:  # the engine and its batches change sampled tokens
        calibration["backend"] = backend_identity(config.execution)
    return calibration


def _variant(spec: MethodSpec, target: SparsityTarget, config: RunConfig) -> Variant:
    execution = config.execution
    if spec.checkpoint is not None:  # its files decide its weights (and the dtype they are loaded in)
        settings = {"method": "checkpoint", "files": directory_fingerprint(spec.checkpoint), "dtype": execution.dtype}
        settings["label"] = spec.label  # its row's name is part of its cell: a relabelled checkpoint is a new row
        return Variant(spec, target, {**settings, "calibration": None})
    settings = {
        "method": spec.canonical,
        "target": asdict(target),
        "calibration": calibration_fingerprint(spec, config),
        "ignore": config.pruning.ignore,
        "lm_head": config.pruning.lm_head,
        "hessians": config.pruning.hessians,
        "dtype": execution.dtype,
        "device": execution.device.split(":")[0],  # pruning arithmetic differs between CPU and GPU
        "experts": [config.pruning.experts, config.pruning.expert_min_tokens],
    }
    if spec.kind == COMPRESSED:  # the code that makes the weights: editing a method (or a plugin) prunes again
        settings["code"] = method_code(spec.name, calibrated=spec.source is not None)
    return Variant(spec, target, settings)


def _task(name: str, config: RunConfig) -> TaskPlan:
    execution, evaluation = config.execution, config.evaluation
    settings = {
        "task": name,
        "task_definition": fingerprint(task_definition(name)),
        "data": data_revision(name, config.data_dir),
        "limit": evaluation.limit,
        "samples": evaluation.samples,
        "max_new_tokens": evaluation.max_new_tokens,
        "pass_at_k": evaluation.pass_at_k,
        "drift_responses": evaluation.drift_responses,
        "hesitation_markers": evaluation.hesitation_markers,
        "thinking_rule": THINKING_RULE,  # how responses without </think> are read (scoring.thinking)
        "seed": config.seed,
        "backend": execution.backend,
        "batch_size": generation_batch_size(name, config),  # padding can tip a greedy argmax
        "device": execution.device.split(":")[0],  # so can another device's arithmetic
        "dtype": execution.dtype,
        "vllm": execution.vllm,
    }
    return TaskPlan(name, settings)


def generation_batch_size(task_name: str, config: RunConfig) -> int:
    """The batch a task's requests are generated in on HF: greedy ones in batches of `greedy_batch_size`, sampled
    ones in batches of `batch_size` (their draws are seeded per batch)."""
    task, execution = get_task(task_name), config.execution
    samples = config.evaluation.samples or task.samples
    return execution.greedy_batch_size if task.generation.greedy and samples == 1 else execution.batch_size


def variant_targets(spec: MethodSpec, config: RunConfig) -> list[SparsityTarget]:
    """The targets a spec is run at: one for dense and outside checkpoints, one (sparsity 0) for a quantizer, else
    every sparsity target of the run, with the spec's quantization on top."""
    if spec.kind != COMPRESSED:
        return [DENSE_TARGET]
    if not getattr(spec.method, "prunes", True):
        return [SparsityTarget(0.0, quantization=spec.quantization)]
    return [replace(target, quantization=spec.quantization) for target in config.targets]


def build_plan(config: RunConfig) -> Plan:
    """Variants in the order asked. The config refuses two names for one computation (`rac` and `sparsegpt@traces`);
    were two variants' settings still equal, they would be planned once, under the name asked first."""
    variants: dict[str, Variant] = {}
    for method in config.all_methods:
        spec = parse_method_spec(method)
        for target in variant_targets(spec, config):
            variant = _variant(spec, target, config)
            same = variants.setdefault(fingerprint(variant.settings), variant)
            if same is not variant:
                log.info("%s is %s under another name: one variant, shown as %s", method, same.method, same.method)
    return Plan(config, tuple(variants.values()), tuple(_task(name, config) for name in config.tasks))

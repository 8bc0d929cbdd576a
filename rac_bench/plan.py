"""Expand a run config into cells (model x method x sparsity target x task), each with a fingerprint.

A cell's fingerprint covers everything that can change its numbers, so equal fingerprints mean the cell
can be reused and different ones mean it must not be.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rac_bench.calibration.prompt_sets import prompt_set_revision
from rac_bench.calibration.sources import has_generated_tokens, trace_file_path
from rac_bench.calibration.text import TextCorpus
from rac_bench.calibration.trace_file import file_hash
from rac_bench.config import RunConfig
from rac_bench.fingerprint import fingerprint
from rac_bench.methods.spec import parse_method_spec
from rac_bench.pruning.pattern import SparsityTarget

DENSE_TARGET = SparsityTarget(0.0)


@dataclass(frozen=True)
class ModelVariant:
    """One compressed model: the unit that is pruned once and evaluated on every task."""

    method: str  # a method spec, METHOD[@SOURCE], as written (the label in results)
    target: SparsityTarget

    def fingerprint(self, config: RunConfig, model_fingerprint: str) -> str:
        spec = parse_method_spec(self.method)
        return fingerprint(
            {
                "model": model_fingerprint,
                "method": spec.canonical,
                "target": asdict(self.target),
                "calibration": calibration_fingerprint(spec.source, config) if spec.source else None,
                "ignore": config.ignore,
                "dtype": config.dtype,
                "device": config.device.split(":")[0],  # pruning arithmetic differs between CPU and GPU
            }
        )


def calibration_fingerprint(source: str, config: RunConfig) -> dict:
    """Everything that decides a source's calibration tokens and their weights; a file by its content hash."""
    calibration: dict = {"source": source, "tokens": config.calibration_tokens}
    if source in ("prompts", "traces"):
        calibration.update(
            prompts=config.calibration_prompts,
            prompts_revision=prompt_set_revision(config.calibration_prompts, config.data_dir),
            samples=config.calibration_samples,
            seed=config.seed,
        )
    if source == "traces":
        calibration.update(
            temperature=config.trace_temperature,
            top_p=config.trace_top_p,
            max_new_tokens=config.trace_max_new_tokens,
        )
    if source == "text":
        calibration.update(text_corpus(config).fingerprint())
    path = trace_file_path(source)
    if path is not None:
        calibration.update(source="traces:<file>", file_sha256=file_hash(path))
    if has_generated_tokens(source):
        calibration.update(cot_weight=config.cot_weight)
    return calibration


def text_corpus(config: RunConfig) -> TextCorpus:
    return TextCorpus(
        str(config.calibration_text), config.calibration_text_windows, config.calibration_text_length, config.seed
    )


def model_variants(config: RunConfig) -> list[ModelVariant]:
    variants = []
    for method in config.all_methods:
        for target in [DENSE_TARGET] if method == "dense" else config.targets:
            variants.append(ModelVariant(method, target))
    return variants


def evaluation_settings(config: RunConfig, task: str) -> dict:
    """Everything besides the model variant that can change a cell's numbers."""
    from rac_bench.task_data import data_revision
    from rac_bench.tasks import task_definition

    return {
        "task": task,
        "task_definition": fingerprint(task_definition(task)),
        "data": data_revision(task, config.data_dir),
        "limit": config.limit,
        "samples": config.samples,
        "max_new_tokens": config.max_new_tokens,
        "pass_at_k": config.pass_at_k,
        "seed": config.seed,
        "backend": config.backend,
        "batch_size": config.batch_size,  # padding can tip a greedy argmax
        "device": config.device.split(":")[0],  # so can another device's arithmetic
        "dtype": config.dtype,
        "vllm": config.vllm,
    }


def cell_fingerprint(config: RunConfig, variant_fingerprint: str, task: str) -> str:
    """The key of a cell in the results store: equal keys are the same measurement."""
    return fingerprint({"variant": variant_fingerprint, "evaluation": evaluation_settings(config, task)})

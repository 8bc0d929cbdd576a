"""Expand a run config into cells (model x method x sparsity target x task), each with a fingerprint.

A cell's fingerprint covers everything that can change its numbers, so equal fingerprints mean the cell
can be reused and different ones mean it must not be.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rac_bench.config import RunConfig
from rac_bench.fingerprint import fingerprint
from rac_bench.methods import get_method
from rac_bench.pruning.pattern import SparsityTarget

DENSE_TARGET = SparsityTarget(0.0)


@dataclass(frozen=True)
class ModelVariant:
    """One compressed model: the unit that is pruned once and evaluated on every task."""

    method: str
    target: SparsityTarget

    def fingerprint(self, config: RunConfig, model_fingerprint: str) -> str:
        method = get_method(self.method)
        calibration = None
        if method.calibration_source:
            calibration = {
                "source": method.calibration_source,
                "prompts": config.calibration_prompts,
                "samples": config.calibration_samples,
                "seed": config.seed,
            }
            if method.calibration_source == "traces":
                calibration.update(
                    temperature=config.trace_temperature,
                    top_p=config.trace_top_p,
                    max_new_tokens=config.trace_max_new_tokens,
                )
        return fingerprint(
            {
                "model": model_fingerprint,
                "method": self.method,
                "target": asdict(self.target),
                "calibration": calibration,
                "ignore": config.ignore,
            }
        )


@dataclass(frozen=True)
class Cell:
    variant: ModelVariant
    task: str


def model_variants(config: RunConfig) -> list[ModelVariant]:
    variants = []
    for method in config.all_methods:
        for target in [DENSE_TARGET] if method == "dense" else config.targets:
            variants.append(ModelVariant(method, target))
    return variants


def plan_cells(config: RunConfig) -> list[Cell]:
    return [Cell(variant, task) for variant in model_variants(config) for task in config.tasks]

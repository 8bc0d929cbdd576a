"""Structured methods: factories that return a physically smaller model (fewer layers, narrower layers) with a
standard config, instead of zeros. The budget `--sparsity S` is the fraction of the dense model's prunable weights
removed; rac_bench.pruning.shape decides the shape, rac_bench.pruning.structured makes it, and the achieved
fraction is counted from the saved checkpoint against the dense model (rac_bench.variants). They take `@SOURCE`
like every method, with the same token budgets and manifests; patterns and quantization are not theirs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rac_bench.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from rac_bench.methods.base import PruneContext
    from rac_bench.pruning.target import SparsityTarget


@dataclass(frozen=True)
class StructuredMethod:
    """`planner(name, config, sparsity)` decides the shape from the config (and refuses a budget it cannot meet);
    `restructure(model, plan, sequences, token_weights, progress)` makes it."""

    name: str
    description: str
    calibration_source: str
    planner: Callable
    restructure: Callable
    paper: str | None = None
    structured: bool = True  # the saved model is smaller: achieved is counted as weights removed against dense
    prunes: bool = True
    quantizes: bool = False

    def check_target(self, target: SparsityTarget) -> None:
        if target.is_n_m:
            raise ConfigError(
                f"{self.name} removes whole layers or channels, not an N:M pattern ({target.pattern}); give "
                "--pattern unstructured (the default) with --sparsity, the fraction of prunable weights removed"
            )
        if target.quantization is not None:
            raise ConfigError(f"{self.name} does not quantize; give {self.name} without :wN")

    def plan(self, config, sparsity: float):
        """The shape this method leaves the model with `config` at `sparsity` (StructureError when it cannot)."""
        return self.planner(self.name, config, sparsity)

    def prune(self, model: nn.Module, context: PruneContext):
        from rac_bench.calibration.sources import parse_source

        plan = self.plan(model.config, context.target.sparsity)
        calibration = context.calibration(context.source or parse_source(self.calibration_source))
        return self.restructure(
            model,
            plan,
            calibration.sequences,
            calibration.token_weights(context.cot_weight),
            context.progress,
        )

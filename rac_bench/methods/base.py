"""What a compression method is to rac-bench: a factory that turns the dense model into a compressed one.

A method gets the model (which it may change in place) and a context with the sparsity target, the
tokenizer and a calibration provider, and returns a report (None when it changes nothing). Third-party
packages implement the same two attributes and one method, and register through entry points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import nn

from rac_bench.pruning.engine import PruneFunction, PruningReport, prune_model
from rac_bench.pruning.pattern import SparsityTarget


@dataclass
class PruneContext:
    target: SparsityTarget
    tokenizer: object
    # source name ("prompts" or "traces") -> token-id sequences; built lazily and cached by the caller
    calibration: Callable[[str], list[torch.Tensor]]
    ignore: str | None = None
    progress: bool = True


class Method(Protocol):
    name: str
    description: str
    # the calibration source the method reads ("prompts", "traces") or None; part of the cell fingerprint
    calibration_source: str | None

    def prune(self, model: nn.Module, context: PruneContext) -> PruningReport | None: ...


@dataclass(frozen=True)
class LayerwiseMethod:
    """A pruning algorithm run by the layer-sequential engine on one calibration source."""

    name: str
    description: str
    algorithm: PruneFunction
    calibration_source: str | None

    def prune(self, model: nn.Module, context: PruneContext) -> PruningReport:
        sequences = context.calibration(self.calibration_source) if self.calibration_source else None
        return prune_model(model, self.algorithm, context.target, sequences, context.ignore, context.progress)

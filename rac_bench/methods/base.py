"""What a compression method is to rac-bench: a factory that turns the dense model into a compressed one.

A method gets the model (which it may change in place) and a context with the sparsity target, the
tokenizer and a calibration provider, and returns a report (None when it changes nothing). Third-party
packages implement the same attributes and one method, and register through entry points (docs/methods.md).

Nothing here imports torch or a solver at import time: `rac-bench methods` lists methods without loading them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from torch import nn

    from rac_bench.calibration.sequences import CalibrationSet
    from rac_bench.calibration.sources import CalibrationSource
    from rac_bench.pruning.engine import PruneFunction, PruningReport
    from rac_bench.pruning.passes import PassSettings
    from rac_bench.pruning.target import SparsityTarget


@dataclass
class PruneContext:
    target: SparsityTarget
    tokenizer: object
    # source (see rac_bench.calibration.sources) -> CalibrationSet; built lazily and cached by the caller
    calibration: Callable[[CalibrationSource], CalibrationSet]
    ignore: str | None = None
    progress: bool = True
    source: CalibrationSource | None = None  # the source of this variant (`method@source`); None: the method's
    cot_weight: float | None = None  # weight of generated (chain-of-thought) tokens in the Hessian; None: 1
    device: str | None = None  # where layers are pruned (a GPU: one layer at a time); None: the model's device
    passes: PassSettings | None = None  # sequential or dense-model statistics, the head, experts; None: defaults


# What a variant is, declared by its method (`kind`; a plugin without one makes compressed variants)
DENSE = "dense"  # the reference every other variant is compared with
COMPRESSED = "compressed"  # made from the dense model by a method
OUTSIDE = "outside"  # loaded from a checkpoint another tool saved


class Method(Protocol):
    name: str
    description: str  # one line, shown by `rac-bench methods` and on the leaderboards
    # the default calibration source ("prompts", "traces", ...) or None when it takes no calibration data
    calibration_source: str | None

    def prune(self, model: nn.Module, context: PruneContext) -> PruningReport | None: ...

    # Optional: `check_target(target)` raises ConfigError for a sparsity target the method cannot meet; a run
    # calls it for every target before any work. `paper`: a link to the method's paper (method pages link it).
    # `kind`: DENSE, COMPRESSED (the default) or OUTSIDE.


def method_kind(method) -> str:
    return getattr(method, "kind", COMPRESSED)


def accepts_every_target(target: SparsityTarget) -> None:
    """The target check of an algorithm that meets any target the pattern parser accepts."""


class LazyFunction:
    """A function of another module, imported on its first call (a built-in's solver imports torch)."""

    def __init__(self, module: str, name: str):
        self.module, self.__name__ = module, name
        self._function = None

    def __call__(self, *args, **kwargs):
        if self._function is None:
            self._function = getattr(importlib.import_module(self.module), self.__name__)
        return self._function(*args, **kwargs)


@dataclass(frozen=True)
class LayerwiseMethod:
    """A pruning algorithm run by the layer-sequential engine on one calibration source."""

    name: str
    description: str
    algorithm: PruneFunction
    calibration_source: str | None
    check_target: Callable[[SparsityTarget], None] = accepts_every_target
    prunes: bool = True  # takes the run's sparsity targets (False: a quantizer, run once per quantization spec)
    quantizes: bool = False  # accepts quantization options (`gptq:w4g128`)
    orders_by_activation: bool = False  # accepts activation order (`gptq:w4g128act`)
    solves_obs: bool = False  # inverts each input's Hessian (SparseGPT, GPTQ): what `--dry-run` costs it at
    paper: str | None = None  # a link to the paper that describes the algorithm
    kind: str = COMPRESSED

    def prune(self, model: nn.Module, context: PruneContext) -> PruningReport:
        from rac_bench.calibration.sources import parse_source
        from rac_bench.pruning.engine import prune_model
        from rac_bench.pruning.passes import PassSettings

        source = context.source or (parse_source(self.calibration_source) if self.calibration_source else None)
        calibration = context.calibration(source) if source is not None else None
        return prune_model(
            model,
            self.algorithm,
            context.target,
            calibration.sequences if calibration is not None else None,
            context.ignore,
            context.progress,
            token_weights=calibration.token_weights(context.cot_weight) if calibration is not None else None,
            device=context.device,
            passes=context.passes or PassSettings(),
        )


@dataclass(frozen=True)
class MethodAlias:
    """Another name for a method on a calibration source (`rac` is `sparsegpt@traces`): a spec that names the alias
    is parsed as the method it stands for, so both names make one variant, pruned and evaluated once. It keeps its
    own description and paper for `rac-bench methods` and the leaderboards' method notes."""

    name: str
    description: str
    method: str  # the registered method it stands for
    calibration_source: str  # the source it reads unless `@SOURCE` says otherwise
    paper: str | None = None
    kind: str = COMPRESSED

    @property
    def same_as(self) -> str:
        return f"{self.method}@{self.calibration_source}"

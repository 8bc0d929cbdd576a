"""Where a run's model variants execute, by name: `local` (this machine, the default) or `ray` (one task per
variant on a Ray cluster). The CLI picks one and hands it to `runner.run`; nothing below the CLI imports this
package. An executor schedules (which variant is built and evaluated where, in what order); the runner's functions
execute each piece (build, evaluate, store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from rac_bench.config import RunConfig
    from rac_bench.plan import Plan
    from rac_bench.store import Store

# (store, run id) -> the keys of the cells it finished; made by an executor once a model's inputs are checked
ModelJob = Callable[["Store", str], list[str]]


class Executor(Protocol):
    def placed(self, config: RunConfig) -> RunConfig:
        """The config with device and dtype resolved where the variants will run."""

    def prepare(self, plan: Plan, model: str | None) -> ModelJob:
        """Check (and, locally, load and prune) what the model's variants need; raise on bad input, write nothing."""


EXECUTORS = {"local": ("rac_bench.executors.local", "LocalExecutor"), "ray": ("rac_bench.executors.ray", "RayExecutor")}


def get_executor(config: RunConfig) -> Executor:
    from importlib import import_module

    module, name = EXECUTORS[config.execution.executor]
    return getattr(import_module(module), name)()

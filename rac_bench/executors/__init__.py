"""Where a run's model variants execute, by name: `local` (this process, the default) or `ray` (one task per
variant on a Ray cluster). The CLI picks one and hands it to `runner.run`; nothing below the CLI imports this
package."""

from __future__ import annotations

from rac_bench.config import RunConfig


def get_executor(config: RunConfig):
    if config.execution.executor == "ray":
        from rac_bench.executors.ray import RayExecutor

        return RayExecutor()
    from rac_bench.executors.local import LocalExecutor

    return LocalExecutor()

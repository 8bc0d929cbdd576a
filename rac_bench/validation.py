"""The checks of a run config that span sections or need the registries (methods, sources, tasks, backends,
models), run once before any work so that bad input fails with one line and nothing written."""

from __future__ import annotations

from dataclasses import replace

from rac_bench.config import RunConfig, default_output_dir
from rac_bench.errors import ConfigError


def validate(config: RunConfig) -> RunConfig:
    _check_what_is_measured(config)
    _check_inputs(config)
    _check_outputs(config)
    return _placed(config)


def _check_what_is_measured(config: RunConfig) -> None:
    from rac_bench.methods.spec import parse_method_spec
    from rac_bench.tasks import get_task

    for spec in config.methods:
        source = parse_method_spec(spec).source
        if source is not None:
            source.check(config.calibration)
    config.targets  # parses every pattern
    for task_name in config.tasks:
        samples = config.evaluation.samples or get_task(task_name).samples
        too_large = [k for k in config.evaluation.pass_at_k or [] if k > samples]
        if too_large:
            raise ConfigError(
                f"pass@{too_large[0]} needs k <= samples per problem, but {task_name} draws {samples}; "
                "lower --pass-at-k or raise --samples"
            )


def _check_inputs(config: RunConfig) -> None:
    from rac_bench.models import check_model_reference

    for model in config.model:
        if model is not None:
            check_model_reference(model)
    if config.data_dir is not None and not config.data_dir.is_dir():
        raise ConfigError(f"data directory {config.data_dir} does not exist; give a directory with the task files")


def _check_outputs(config: RunConfig) -> None:
    from rac_bench.files import unwritable_ancestor

    if config.output_dir is None:
        config.output_dir = default_output_dir()
    blocked = unwritable_ancestor(config.output_dir)
    if blocked is not None:
        raise ConfigError(
            f"cannot write to output directory {config.output_dir}: {blocked} is not a writable directory"
        )


def _placed(config: RunConfig) -> RunConfig:
    """The backend resolved, and device and dtype resolved on this machine (on Ray, the executor resolves them
    from the cluster's GPUs instead)."""
    import torch

    from rac_bench.backends import resolve_backend

    execution = replace(config.execution, backend=resolve_backend(config.execution.backend))
    if execution.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(
                "executor 'ray' needs Ray: pip install 'rac-bench[ray]'; or use --executor local"
            ) from None
    else:
        execution = execution.placed(torch.cuda.is_available())
    return replace(config, execution=execution)

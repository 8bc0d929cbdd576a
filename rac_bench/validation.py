"""The checks of a run config that span sections or need the registries (methods, sources, tasks, backends,
models), run once before any work so that bad input fails with one line and nothing written."""

from __future__ import annotations

import math
from dataclasses import replace

from rac_bench.config import RunConfig, default_output_dir
from rac_bench.errors import ConfigError
from rac_bench.methods.base import COMPRESSED


def validate(config: RunConfig) -> RunConfig:
    _check_what_is_measured(config)
    _check_inputs(config)
    _check_outputs(config)
    return _placed(config)


def _check_what_is_measured(config: RunConfig) -> None:
    from rac_bench.estimate import assumptions
    from rac_bench.methods.spec import parse_method_spec
    from rac_bench.plan import variant_targets
    from rac_bench.tasks import get_task

    assumptions(config.estimate)  # checked on every run, not only on --dry-run, so a typo there never sits unseen

    _ = config.targets  # parses every pattern
    specs = [parse_method_spec(spec) for spec in config.methods]
    for parsed in specs:
        if parsed.source is not None:
            parsed.source.check(config.calibration)
        check_target = getattr(parsed.method, "check_target", None)
        for target in variant_targets(parsed, config) if check_target else []:
            _checked_target(parsed.label, check_target, target)
    _check_targets_are_used(config, specs)
    _check_distinct(specs)
    for task_name in config.tasks:
        samples = config.evaluation.samples or get_task(task_name).samples
        too_large = [k for k in config.evaluation.pass_at_k or [] if k > samples]
        if too_large:
            raise ConfigError(
                f"pass@{too_large[0]} needs k <= samples per problem, but {task_name} draws {samples}; "
                "lower --pass-at-k or raise --samples"
            )


def _check_distinct(specs: list) -> None:
    """Two specs of one run may not share a label (one row would hide the other) or a computation (the second
    would reuse the first's cells under the first's label)."""
    seen: dict = {}
    for spec in specs:
        computation = ("variant", spec.checkpoint or spec.canonical, spec.checkpoint and spec.label)
        for key in (("label", spec.label), computation):
            if key in seen:
                raise ConfigError(
                    f"--methods names {seen[key]!r} and {spec.label!r}, which are the same "
                    f"{'label' if key[0] == 'label' else 'variant'}; name each variant once"
                )
            seen[key] = spec.label


def _checked_target(method: str, check_target, target) -> None:
    """A method's own target check: ConfigError and ValueError refuse the target (exit 2); anything else it raises,
    or an exit, is the method crashing (exit 3)."""
    from rac_bench.errors import MethodFailure, RacBenchError, first_line

    try:
        check_target(target)
    except RacBenchError:
        raise
    except ValueError as error:
        raise ConfigError(f"method {method} cannot meet {target.label}: {first_line(error)}") from None
    except (Exception, SystemExit) as error:
        cause = f"{type(error).__name__}: {first_line(error)}"
        raise MethodFailure(f"method {method} failed checking {target.label}: {cause}") from None


def _check_targets_are_used(config: RunConfig, specs: list) -> None:
    """A sparsity or pattern that no method of the run prunes to would be dropped without a word (`gptq:w4
    --pattern 2:4` is one 4-bit variant, not a sparse one): say so instead."""
    asked = []  # what differs from the defaults: nothing else was asked that could be ignored
    if config.sparsity != [0.5]:
        asked.append(f"--sparsity {','.join(f'{s:g}' for s in config.sparsity)}")
    if config.pattern != ["unstructured"]:
        asked.append(f"--pattern {','.join(config.pattern)}")
    if (
        not asked
        or not specs
        or any(s.kind == COMPRESSED and getattr(s.method, "prunes", True) for s in specs)
    ):
        return
    labels = ", ".join(s.label for s in specs)
    raise ConfigError(
        f"{' '.join(asked)} applies to no method of this run ({labels}: a quantizer is one variant at sparsity 0, "
        "dense and outside checkpoints take none); for sparse and quantized weights use sparsegpt:wN or rac:wN, "
        "e.g. sparsegpt:w4"
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
    for what, directory in (("output", config.output_dir), ("cache", config.execution.cache_dir)):
        blocked = unwritable_ancestor(directory)
        if blocked is not None:
            raise ConfigError(f"cannot write to {what} directory {directory}: {blocked} is not a writable directory")


def check_run_inputs(config: RunConfig) -> None:
    """What a run reads besides its config, checked before it writes anything (a model's conversion or download
    included): every task's data, the calibration prompts' data where a method draws on them, and every model's
    config (so that a second model that cannot be loaded fails before the first one's cells are written), with its
    layers checked against the N:M patterns."""
    from rac_bench.models import model_config
    from rac_bench.structured_shapes import structured_plans
    from rac_bench.task_data import check_task_data

    check_task_data(config.tasks, config.data_dir)
    check_calibration_prompts(config)
    for model in config.model:
        check_patterns_fit(config, model, model_config(model))
        structured_plans(config, model, model_config(model))  # a structured budget that cannot be met


def check_calibration_prompts(config: RunConfig) -> None:
    """The calibration prompt set's local data, read where a method draws on it (prompts, traces)."""
    from rac_bench.calibration.prompt_sets import check_prompt_set_data
    from rac_bench.methods.spec import parse_method_spec

    if any(getattr(parse_method_spec(spec).source, "draws_prompt_set", False) for spec in config.methods):
        check_prompt_set_data(config.calibration.prompts, config.data_dir)


def check_patterns_fit(config: RunConfig, model: str | None, model_config) -> None:
    """An N:M pattern needs every pruned layer's input width to be a multiple of M, and a quantization group size
    must divide it too."""
    from rac_bench.methods.spec import parse_method_spec
    from rac_bench.models import EMBEDDED_MODEL_NAME, prunable_input_widths
    from rac_bench.pruning.quantization import check_quantization_target

    patterns = [target for target in config.targets if target.is_n_m]
    grouped = [
        spec for spec in map(parse_method_spec, config.methods) if spec.quantization and spec.quantization.group_size
    ]
    if not (patterns or grouped) or all(method == "dense" for method in config.methods):
        return
    widths = prunable_input_widths(model_config, config.pruning.ignore)
    for spec in grouped:
        try:
            check_quantization_target(spec, widths)
        except ConfigError as error:
            raise ConfigError(f"{spec.label}: {error} ({model or EMBEDDED_MODEL_NAME})") from None
    for target in patterns:
        misfit = next((name for name, width in widths.items() if width % target.m), None)
        if misfit is not None:
            raise ConfigError(
                f"pattern {target.pattern} needs every pruned layer's input width to be a multiple of {target.m}, "
                f"but {model or EMBEDDED_MODEL_NAME}'s {misfit} has {widths[misfit]} inputs; accepted M: divisors "
                f"of {math.gcd(*widths.values())}"
            )


def _placed(config: RunConfig) -> RunConfig:
    """The backend resolved, and device and dtype resolved on this machine (on Ray, the executor resolves them
    from the cluster's GPUs instead)."""
    from rac_bench.backends import resolve_backend
    from rac_bench.devices import gpus_available

    execution = replace(config.execution, backend=resolve_backend(config.execution.backend))
    if execution.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(
                "executor 'ray' needs Ray: pip install 'rac-bench[ray]'; or use --executor local"
            ) from None
    else:
        execution = execution.placed(gpus_available())
    return replace(config, execution=execution)

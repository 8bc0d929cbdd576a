"""What each `rac-bench` command does once its flags are parsed (`cli.py` builds the parser and turns errors into
exit codes). Each command imports what it needs when it runs, so that a light command stays light."""

from __future__ import annotations

import os
import sys

from rac_bench.errors import ConfigError
from rac_bench.process import skip_scikit_learn

EXIT_REGRESSION = 1


def _config(args, **extra):
    """The run config from --config and the flags that were given."""
    from rac_bench.config import FLAGS
    from rac_bench.config_loader import build_config

    if getattr(args, "calibration_samples", None) is not None:
        raise ConfigError(
            "--calibration-samples is gone: every calibration source now draws until it meets the token budget; "
            "give --calibration-tokens N"
        )
    flags = {dest: getattr(args, dest) for dest in FLAGS if hasattr(args, dest)}
    if getattr(args, "vllm", None):
        flags["vllm"] = _engine_options(args.vllm)
    return build_config(args.config, {**flags, **extra})


def _engine_options(flags: list[str]) -> dict:
    """--vllm OPTION=VALUE flags as a mapping (values read as YAML scalars); it updates the config file's vllm:."""
    import yaml

    from rac_bench.input_files import load_yaml

    options = {}
    for flag in flags:
        name, separator, value = flag.partition("=")
        if not separator or not name.strip():
            raise ConfigError(f"--vllm takes OPTION=VALUE, e.g. --vllm tensor_parallel_size=4; got {flag!r}")
        try:
            options[name.strip()] = load_yaml(value)
        except yaml.YAMLError:
            raise ConfigError(f"--vllm {flag!r}: the value is not a number, word or true/false") from None
    return options


def run(args) -> int:
    _check_gpus(args)
    config = _config(args)  # bad flags and config fail here, before the runner's imports

    from rac_bench.files import check_run_output_dir
    from rac_bench.plan import build_plan

    check_run_output_dir(config.output_dir)  # a run's outputs never mix with files it did not write
    command = " ".join(["rac-bench", *sys.argv[1:]])
    plan, result = build_plan(config), None
    if not args.dry_run and config.execution.executor == "local":
        from rac_bench.stored_run import run_from_store

        result = run_from_store(plan, command)  # every cell stored: no torch, no model load
    if result is None:
        skip_scikit_learn()
        from rac_bench.executors import get_executor
        from rac_bench.runner import run as run_plan

        executor = get_executor(config)
        if args.dry_run:
            from rac_bench.estimate import plan_report

            gpus = args.gpus if args.gpus is not None else _detected_gpus(config)
            if args.gpus is None and gpus == 0:  # vLLM runs on the CPU here, as the run's engine would set it
                os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
            print(plan_report(plan, gpus))
            return 0
        placed = executor.placed(config)
        result = run_plan(plan if placed is config else build_plan(placed), executor, command=command)
    print(f"tasks: {', '.join(config.tasks)}; calibration prompts: {config.calibration.prompts}\n")
    print(result.table)
    print(f"\nresults written to {result.output_dir}")
    return 0


def _check_gpus(args) -> None:
    if args.gpus is None:
        return
    if not args.dry_run:
        raise ConfigError(
            "--gpus sizes the cluster a --dry-run plans for; add --dry-run (a run uses the GPUs it finds)"
        )
    if not 0 <= args.gpus < float("inf"):
        raise ConfigError(f"--gpus must be a number of GPUs >= 0, e.g. 8; got {args.gpus}")


def _detected_gpus(config) -> float:
    """GPUs the run could use: the Ray cluster's (when it joins one), else this machine's CUDA devices."""
    if config.execution.executor == "ray" and config.execution.ray_address:
        import ray

        from rac_bench.executors.ray import join_cluster

        join_cluster(config.execution.ray_address, log_to_driver=False)
        return ray.cluster_resources().get("GPU", 0.0)
    import torch

    return float(torch.cuda.device_count())


CHECKPOINT_FORMATS = ("fake-quant", "compressed-tensors")


def prune(args) -> int:
    skip_scikit_learn()
    from rac_bench.dense_model import load_dense
    from rac_bench.models import model_config
    from rac_bench.plan import build_plan
    from rac_bench.structured_shapes import structured_plans
    from rac_bench.validation import check_calibration_prompts, check_patterns_fit
    from rac_bench.variants import prune_to_directory

    if args.out.exists():
        raise ConfigError(f"--out {args.out} already exists; give a new directory")
    one_checkpoint = "prune makes one checkpoint: give one --model, --method, --sparsity and --pattern"
    if any("," in (value or "") for value in (args.model, args.method, args.sparsity, args.pattern)):
        raise ConfigError(one_checkpoint)
    config = _config(args, methods=args.method, output_dir=args.out.parent)
    if len(config.model) != 1 or len(config.methods) != 1 or len(config.targets) != 1:
        raise ConfigError(one_checkpoint)
    if config.methods == ["dense"]:
        raise ConfigError("dense prunes nothing; give a pruning method, e.g. --method rac")
    check_patterns_fit(config, config.model[0], model_config(config.model[0]))
    check_calibration_prompts(config)  # before the model is converted or downloaded
    structured = structured_plans(config, config.model[0], model_config(config.model[0]))
    variant = build_plan(config).variants[1]
    if args.format not in CHECKPOINT_FORMATS:
        raise ConfigError(f"unknown --format {args.format!r}; accepted: {', '.join(CHECKPOINT_FORMATS)}")
    if args.format == "compressed-tensors" and variant.target.quantization is None:
        raise ConfigError(
            f"--format compressed-tensors packs quantized weights; {variant.method} is not quantized "
            "(give e.g. --method gptq:w4g64, or --format fake-quant)"
        )
    packed = args.format == "compressed-tensors"
    report = prune_to_directory(variant, load_dense(config, config.model[0]), config, args.out, packed=packed)
    error = report.get("mean_relative_error")
    pattern = structured[0][1].removal() if structured else report["pattern"]  # a structured method zeroes nothing
    print(
        f"{report['method']} {pattern} sparsity {report.get('sparsity', 0):.3f}"
        + (f", mean relative reconstruction error {error:.4f}" if error is not None else "")
        + f", {report['prune_seconds']:.1f}s\ncheckpoint written to {args.out}"
    )
    return 0


def traces(args) -> int:
    skip_scikit_learn()
    from rac_bench.calibration.prompt_sets import check_prompt_set_data
    from rac_bench.calibration.sources import parse_source
    from rac_bench.calibration.sources.traces import trace_cache_dir
    from rac_bench.dense_model import load_dense

    config = _config(args)
    if len(config.model) != 1:
        raise ConfigError("traces are built for one model at a time; give one --model")
    check_prompt_set_data(config.calibration.prompts, config.data_dir)  # before the model is converted or downloaded
    calibration = load_dense(config, config.model[0]).calibration
    manifest = calibration.manifest(parse_source("traces"))
    sampled = manifest["sampled_generated_tokens"]
    print(
        f"{manifest['sequences']} on-policy traces, {manifest['tokens']:,} tokens ({manifest['prompt_tokens']:,} "
        f"prompt + {manifest['generated_tokens']:,} generated; {manifest['hit_token_limit']} hit the token limit); "
        f"sampled {manifest['sampled_traces']} traces, {sampled:,} generated tokens "
        f"({sampled / max(1, manifest['generated_tokens']):.2f}x those kept); "
        f"cached at {trace_cache_dir(calibration.inputs)}"
    )
    return 0


def _names(name: str, value: str | None) -> list[str] | None:
    from rac_bench.config_fields import text_list

    return text_list(name, value) if value is not None else None


def leaderboard(args) -> int:
    from rac_bench.leaderboard.formats import select_formats
    from rac_bench.leaderboard.rows import chosen_columns
    from rac_bench.leaderboard.writing import check_request, read_leaderboard, render_and_write

    formats = select_formats(_names("--format", args.format))
    columns = chosen_columns(_names("--columns", args.columns))
    check_request(formats, columns, args.out)
    board = read_leaderboard(args.store, _selector(args), args.title, columns, formats)
    for text in render_and_write(formats, board, args.out):
        print(text, end="")
    return 0


def compare(args) -> int:
    from rac_bench.files import unwritable_ancestor, write_atomic
    from rac_bench.leaderboard.compare import compare_stores, render_comparison

    if args.format not in ("terminal", "markdown", "html"):
        raise ConfigError(f"unknown format {args.format!r}; accepted: terminal, markdown, html")
    if args.out is not None:
        blocked = unwritable_ancestor(args.out.parent)
        if blocked is not None or args.out.is_dir():
            raise ConfigError(f"cannot write --out {args.out}: {blocked or args.out} is not a writable file path")
    comparison, store_name, against_name = compare_stores(args.store, args.against, _selector(args))
    text = render_comparison(comparison, args.format, store_name, against_name)
    if args.out is None:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.out, text)
        print(f"comparison written to {args.out}")
    return 0


def _selector(args):
    from rac_bench.cells import CellSelector

    names = {part: _names(f"--{part}", getattr(args, part, None)) for part in ("model", "tasks", "methods")}
    return CellSelector(*(tuple(value) if value is not None else None for value in names.values()))


def gate(args) -> int:
    from rac_bench.gate import gate_store

    report = gate_store(args.baseline, args.store, _names("--metric", args.metric), args.tolerance, _selector(args))
    print(report.table)
    for warning in report.warnings:
        print(f"rac-bench: warning: {warning}", file=sys.stderr)
    return EXIT_REGRESSION if report.regressed else 0


def delete(args) -> int:
    from rac_bench.store import open_store

    selector = _selector(args)
    if not selector:
        raise ConfigError("delete needs a selection: give --model, --tasks and/or --methods (each a comma list)")
    store = open_store(args.store, create=False)
    try:
        deleted = store.delete_cells(selector)
    finally:
        store.close()
    print(f"deleted {deleted} cell(s) from {store.path}")
    return 0


def methods(args) -> int:
    from rac_bench.methods import available_methods, method_origin, unavailable_methods

    for name, method in sorted(available_methods().items()):
        origin = method_origin(name)
        plugin = f" (plugin: {origin.distribution} {origin.version})" if origin.distribution != "rac-bench" else ""
        paper = getattr(method, "paper", None)
        print(f"{name:12} {method.description}{plugin}" + (f"; {paper}" if paper else ""))
    for reason in unavailable_methods().values():
        print(f"rac-bench: warning: {reason}", file=sys.stderr)
    return 0


def tasks(args) -> int:
    from tabulate import tabulate

    from rac_bench.tasks import TASKS

    rows = [
        [t.name, t.size, t.scorer, t.samples, t.generation.temperature, t.generation.max_new_tokens, t.source]
        for t in TASKS.values()
    ]
    print(tabulate(rows, headers=["task", "problems", "scorer", "samples", "temperature", "max new tokens", "source"]))
    return 0

"""`rac-bench`: run the benchmark, prune a checkpoint, build calibration traces, render leaderboards, gate a run
against a baseline, list methods and tasks.

Bad input exits 2 with one line on stderr and nothing written; a failed gate exits 1; a compression method that
raises while pruning exits 3, with one line naming the method and the matrix.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from rac_bench.errors import ConfigError, MethodFailure, RacBenchError

EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_METHOD_FAILED = 3
RUN_EXAMPLES = """examples:
  rac-bench run --methods sparsegpt,rac --sparsity 0.5          the embedded model, dense vs SparseGPT vs RAC
  rac-bench run --config configs/embedded-sweep.yaml            every method at 0.4, 0.5 and 0.6
  rac-bench run --config configs/recipes/r1-distill-qwen-7b.yaml --dry-run --gpus 8
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise RacBenchError(f"{self.prog}: {message}")

    def format_help(self) -> str:
        """A help text given as a function (read from the metric catalogue or the formats) is made only when
        shown, so that a run never imports them for its parser."""
        for action in self._actions:
            if callable(action.help):
                action.help = action.help()
        return super().format_help()


def _columns_help() -> str:
    from rac_bench import catalogue

    return "comma list of column keys (the CSV's headers), or `all`: " + ", ".join(m.key for m in catalogue.columns())


def _formats_help() -> str:
    from rac_bench.leaderboard.formats import formats_help

    return f"{formats_help()}; a comma list writes several"


def _gate_help() -> str:
    from rac_bench import catalogue

    return catalogue.gate_help()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rac-bench")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Which model, and how its calibration sets are built: shared by run, prune and traces."""
    parser.add_argument("--config", type=Path, help="YAML run config; flags override it")
    parser.add_argument(
        "--model", help="HF model directory, hub id or .gguf file (default: the embedded tiny reasoner)"
    )
    parser.add_argument(
        "--seed",
        help="seed of sampling and of the calibration prompts' order (default: 0; bootstraps always use seed 0)",
    )
    parser.add_argument("--data-dir", type=Path, help="local copies of hub data (math500.jsonl, openr1_math.jsonl)")
    parser.add_argument(
        "--calibration-tokens",
        help="tokens every calibration source gives (default: 16384; the RAC authors' code: 1000000)",
    )
    parser.add_argument("--calibration-preset", help="a named calibration recipe: reference or ports (README)")
    parser.add_argument(
        "--calibration-prompts",
        help="calibration prompt set: rac_arith (the embedded model's default), openr1_math (any other model's) or "
        "competition_math (AIME 2024/2025 and AMC 2023: offline with --data-dir)",
    )
    parser.add_argument("--calibration-seed", help="seed of the calibration prompts' order, windows and traces")
    parser.add_argument("--calibration-samples", help=argparse.SUPPRESS)  # gone: refused with a pointer
    parser.add_argument("--calibration-text", help="the `text` source: a .txt/.jsonl file or hub dataset id")
    parser.add_argument("--cot-weight", help="Hessian weight of chain-of-thought tokens (prompt tokens: 1)")
    parser.add_argument(
        "--backend", help="generation (evaluation and RAC traces): hf, vllm or auto (vLLM with CUDA, else hf)"
    )
    parser.add_argument(
        "--vllm", action="append", metavar="OPTION=VALUE", help="a vLLM engine option, e.g. tensor_parallel_size=4"
    )
    parser.add_argument("--batch-size", help="generation batch size of sampled requests and traces (default: 64)")
    parser.add_argument(
        "--greedy-batch-size", help="generation batch size of greedy requests (default: 1024, a small task at once)"
    )
    parser.add_argument(
        "--threads", help="torch threads (default: 1 for a model under 50M parameters, else the cores not busy)"
    )
    parser.add_argument("--device", help="auto (a CUDA GPU when present), cpu, cuda or cuda:N")
    parser.add_argument("--dtype", help="auto (bfloat16 on a GPU, float32 on the CPU), float32, bfloat16 or float16")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="traces and pruned checkpoints (default: $RAC_BENCH_CACHE, else ~/.cache/rac-bench, shared by the "
        "machine's runs of this user)",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    _add_model_options(parser)
    parser.add_argument(
        "--methods", help="comma list of METHOD[@SOURCE] (default: sparsegpt,rac; dense is always included)"
    )
    parser.add_argument("--sparsity", help="comma list of fractions in [0, 1) (default: 0.5)")
    parser.add_argument("--pattern", help="'unstructured' (default) or N:M, e.g. 2:4; comma list allowed")
    parser.add_argument(
        "--tasks",
        help="comma list of tasks (default: rac_arith for the embedded model, math500 for any other; see "
        "`rac-bench tasks`)",
    )
    parser.add_argument("--output-dir", type=Path, help="where results go (default: rac-bench-runs/<time>-<random>)")
    parser.add_argument("--limit", help="evaluate only the first N problems of each task")
    parser.add_argument("--samples", help="samples per problem (default: the task's)")
    parser.add_argument("--pass-at-k", help="comma list of k for pass@k, each <= samples (default: 1, 2, 4, ...)")
    parser.add_argument("--max-new-tokens", help="generation budget (default: the task's)")
    parser.add_argument("--ignore", help="regex of linear-layer names inside decoder layers to leave dense")
    _add_store_option(parser)
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_const",
        const=False,
        help="evaluate every cell again instead of reusing finished cells and generations from the store "
        "(pruned checkpoints and traces are still reused when their fingerprints match: see --rebuild)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_const",
        const=True,
        help="prune every variant and sample its traces again, replacing the cached checkpoints and traces",
    )
    parser.add_argument("--executor", help="local (default) or ray: one Ray task per model variant")
    parser.add_argument("--ray-address", help="Ray cluster to join (default: start a local one); e.g. auto")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan with estimated GPU hours, tokens and disk; run nothing"
    )
    parser.add_argument("--gpus", type=float, help="with --dry-run: plan for a cluster of N GPUs (default: detected)")


def _add_selector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="comma list of models (default: all)")
    parser.add_argument("--tasks", help="comma list of tasks (default: all)")
    parser.add_argument("--methods", help="comma list of method labels, e.g. rac,sparsegpt@text (default: all)")


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", type=Path, help="SQLite results store (default: $RAC_BENCH_STORE or rac-bench-runs/results.sqlite)"
    )


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


def _run(args) -> int:
    _check_gpus(args)
    config = _config(args)  # bad flags and config fail here, before the runner's imports

    from rac_bench.executors import get_executor
    from rac_bench.plan import build_plan
    from rac_bench.runner import run

    from rac_bench.files import check_run_output_dir

    check_run_output_dir(config.output_dir)  # a run's outputs never mix with files it did not write
    executor = get_executor(config)
    if args.dry_run:
        from rac_bench.estimate import plan_report

        gpus = args.gpus if args.gpus is not None else _detected_gpus(config)
        print(plan_report(build_plan(config), gpus))
        return 0
    plan = build_plan(executor.placed(config))
    result = run(plan, executor, command=" ".join(["rac-bench", *sys.argv[1:]]))
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


def _prune(args) -> int:
    from rac_bench.dense_model import load_dense
    from rac_bench.models import model_config
    from rac_bench.plan import build_plan
    from rac_bench.structured_shapes import structured_plans
    from rac_bench.validation import check_patterns_fit
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
    structured_plans(config, config.model[0], model_config(config.model[0]))
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
    print(
        f"{report['method']} {report['pattern']} sparsity {report.get('sparsity', 0):.3f}"
        + (f", mean relative reconstruction error {error:.4f}" if error is not None else "")
        + f", {report['prune_seconds']:.1f}s\ncheckpoint written to {args.out}"
    )
    return 0


def _traces(args) -> int:
    from rac_bench.calibration.sources import parse_source
    from rac_bench.calibration.sources.traces import trace_cache_dir
    from rac_bench.dense_model import load_dense

    config = _config(args)
    if len(config.model) != 1:
        raise ConfigError("traces are built for one model at a time; give one --model")
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


def _leaderboard(args) -> int:
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


def _compare(args) -> int:
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


def _gate(args) -> int:
    from rac_bench.gate import gate_store

    report = gate_store(args.baseline, args.store, _names("--metric", args.metric), args.tolerance, _selector(args))
    print(report.table)
    for warning in report.warnings:
        print(f"rac-bench: warning: {warning}", file=sys.stderr)
    return EXIT_REGRESSION if report.regressed else 0


def _delete(args) -> int:
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


def _methods(args) -> int:
    from rac_bench.methods import available_methods, method_origin, unavailable_methods

    for name, method in sorted(available_methods().items()):
        origin = method_origin(name)
        plugin = f" (plugin: {origin.distribution} {origin.version})" if origin.distribution != "rac-bench" else ""
        paper = getattr(method, "paper", None)
        print(f"{name:12} {method.description}{plugin}" + (f"; {paper}" if paper else ""))
    for reason in unavailable_methods().values():
        print(f"rac-bench: warning: {reason}", file=sys.stderr)
    return 0


def _tasks(args) -> int:
    from tabulate import tabulate

    from rac_bench.tasks import TASKS

    rows = [
        [t.name, t.size, t.scorer, t.samples, t.generation.temperature, t.generation.max_new_tokens, t.source]
        for t in TASKS.values()
    ]
    print(tabulate(rows, headers=["task", "problems", "scorer", "samples", "temperature", "max new tokens", "source"]))
    return 0


def _add_prune_command(commands) -> None:
    parser = commands.add_parser("prune", help="prune once and save a checkpoint that transformers and vLLM load")
    _add_model_options(parser)
    parser.add_argument("--method", required=True, help="METHOD[@SOURCE], e.g. rac, sparsegpt, sparsegpt@text")
    # No argparse defaults: a flag left out keeps the --config file's value (or the config's own default).
    parser.add_argument("--sparsity", help="a fraction in [0, 1) (default: the config's, 0.5)")
    parser.add_argument("--pattern", help="'unstructured' (the config's default) or N:M, e.g. 2:4")
    parser.add_argument("--ignore", help="regex of linear-layer names inside decoder layers to leave dense")
    parser.add_argument("--out", type=Path, required=True, help="new directory for the checkpoint")
    parser.add_argument(
        "--format",
        default="fake-quant",
        help="fake-quant (weights in the model's dtype, every backend) or compressed-tensors (a quantized "
        "variant packed as pack-quantized, for vLLM's integer kernels)",
    )
    parser.set_defaults(handler=_prune)


def _add_report_commands(commands) -> None:
    parser = commands.add_parser("leaderboard", help="render the leaderboard from the results store")
    _add_store_option(parser)
    _add_selector_options(parser)
    parser.add_argument("--format", default="terminal", help=_formats_help)
    parser.add_argument("--columns", help=_columns_help)
    parser.add_argument(
        "--out", type=Path, help="file to write (a site: a directory; several formats: PATH.<extension>)"
    )
    parser.add_argument(
        "--title", default="rac-bench leaderboard", help="title of the HTML page, site or LaTeX caption"
    )
    parser.set_defaults(handler=_leaderboard)
    parser = commands.add_parser("compare", help="two stores side by side, cell by cell, with paired differences")
    _add_store_option(parser)
    parser.add_argument(
        "--against", type=Path, required=True, help="the store to compare with (differences: store - against)"
    )
    parser.add_argument("--format", default="terminal", help="terminal, markdown or html")
    parser.add_argument("--out", type=Path, help="file to write (default: print)")
    _add_selector_options(parser)
    parser.set_defaults(handler=_compare)
    parser = commands.add_parser("gate", help="compare the store's cells with a baseline; exit 1 on regression")
    parser.add_argument(
        "--baseline",
        type=Path,
        required=True,
        help="a baseline from `leaderboard --format baseline`, e.g. leaderboards/embedded.baseline.json",
    )
    _add_store_option(parser)
    parser.add_argument("--metric", default="accuracy", help=_gate_help)
    parser.add_argument(
        "--tolerance", type=float, help="allowed change past the baseline value (default: the baseline's 95%% CI)"
    )
    _add_selector_options(parser)
    parser.set_defaults(handler=_gate)
    parser = commands.add_parser("delete", help="delete cells from the results store, by model, task and method")
    _add_store_option(parser)
    _add_selector_options(parser)
    parser.set_defaults(handler=_delete)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rac-bench", description="What pruning really costs a reasoning model.")
    parser.add_argument("--version", action="version", version=f"rac-bench {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_parser = commands.add_parser(
        "run",
        help="prune with each method and evaluate; print the leaderboard",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(run_parser)
    run_parser.set_defaults(handler=_run)
    _add_prune_command(commands)
    traces_parser = commands.add_parser("traces", help="generate (or find) RAC's on-policy traces ahead of time")
    _add_model_options(traces_parser)
    traces_parser.set_defaults(handler=_traces)
    _add_report_commands(commands)
    commands.add_parser("methods", help="list compression methods").set_defaults(handler=_methods)
    commands.add_parser("tasks", help="list tasks").set_defaults(handler=_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rac_bench.logs import configure_logging

    try:
        args = build_parser().parse_args(argv)
        configure_logging(args.verbose)
        try:
            return args.handler(args)
        except sqlite3.DatabaseError as error:  # damage on a page of the store that only a later read reached
            raise _damaged_store(error, args) from None
    except RacBenchError as error:
        message = str(error)
        print(message if message.startswith("rac-bench") else f"rac-bench: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MethodFailure as failure:
        print(f"rac-bench: error: {failure}", file=sys.stderr)
        return EXIT_METHOD_FAILED
    except KeyboardInterrupt:
        print("rac-bench: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # a full disk where no write point names it (the cache: traces, checkpoints)
        from rac_bench.files import disk_full_error

        full = disk_full_error(error, error.filename or "a file")
        if full is None:
            raise
        print(f"rac-bench: error: {full}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _damaged_store(error: sqlite3.DatabaseError, args) -> Exception:
    from rac_bench.store import damaged_store_error, default_store_path

    return damaged_store_error(error, getattr(args, "store", None) or default_store_path()) or error


if __name__ == "__main__":
    sys.exit(main())

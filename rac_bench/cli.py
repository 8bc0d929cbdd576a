"""`rac-bench`: run the benchmark, prune a checkpoint, build calibration traces, list methods and tasks.

Bad input exits 2 with one line on stderr and nothing written; a failed gate exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from rac_bench.errors import RacBenchError

EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise RacBenchError(f"{self.prog}: {message}")


def _add_calibration_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration-samples", help="number of calibration prompts")
    parser.add_argument("--calibration-prompts", help="calibration prompt set: rac_arith (default) or openr1_math")
    parser.add_argument("--calibration-tokens", help="cap on calibration tokens per source (paper: 1000000)")
    parser.add_argument("--calibration-text", help="the `text` source: a .txt/.jsonl file or hub dataset id")
    parser.add_argument("--cot-weight", help="Hessian weight of chain-of-thought tokens (prompt tokens: 1)")


def _add_placement_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="auto (a CUDA GPU when present), cpu, cuda or cuda:N")
    parser.add_argument("--dtype", help="auto (bfloat16 on a GPU, float32 on the CPU), float32, bfloat16 or float16")


CALIBRATION_DATA_OPTIONS = (
    "calibration_samples",
    "calibration_prompts",
    "calibration_tokens",
    "calibration_text",
    "cot_weight",
)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML run config; flags override it")
    parser.add_argument("--model", help="HF model directory or hub id (default: the embedded tiny reasoner)")
    parser.add_argument(
        "--methods",
        help="comma list of METHOD[@SOURCE], e.g. sparsegpt,rac,sparsegpt@text,wanda@traces (dense is always included)",
    )
    parser.add_argument("--sparsity", help="comma list of fractions in [0, 1), e.g. 0.5,0.6")
    parser.add_argument("--pattern", help="'unstructured' or N:M (e.g. 2:4); comma list allowed")
    parser.add_argument("--tasks", help="comma list of tasks (see `rac-bench tasks`)")
    parser.add_argument(
        "--data-dir", type=Path, help="local copies of task data (math500.jsonl, ...) instead of the hub"
    )
    parser.add_argument("--output-dir", type=Path, help="where results go (default: rac-bench-runs/<timestamp>)")
    parser.add_argument("--backend", help="hf, vllm or auto (default: vLLM on a CUDA machine where installed, else hf)")
    parser.add_argument("--limit", help="evaluate only the first N problems of each task")
    parser.add_argument("--samples", help="samples per problem (default: the task's)")
    parser.add_argument("--pass-at-k", help="comma list of k for pass@k, each <= samples (default: 1, 2, 4, ...)")
    parser.add_argument("--max-new-tokens", help="generation budget (default: the task's)")
    parser.add_argument("--seed", type=int)
    _add_calibration_data_options(parser)
    parser.add_argument("--ignore", help="regex of linear-layer names inside decoder layers to leave dense")
    parser.add_argument("--batch-size", help="generation batch size")
    parser.add_argument("--threads", help="torch threads (default: one per core)")
    _add_placement_options(parser)
    parser.add_argument("--cache-dir", type=Path, help="traces and pruned checkpoints (default: $RAC_BENCH_CACHE)")
    _add_store_option(parser)
    parser.add_argument(
        "--vllm",
        action="append",
        metavar="OPTION=VALUE",
        help="a vLLM engine option, e.g. --vllm tensor_parallel_size=4 (repeatable; overrides the config's vllm:)",
    )
    parser.add_argument("--executor", help="local (default) or ray: one Ray task per model variant")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan with estimated GPU hours, tokens and disk; run nothing"
    )
    parser.add_argument("--gpus", type=float, help="with --dry-run: plan for a cluster of N GPUs (default: detected)")
    parser.add_argument("--ray-address", help="Ray cluster to join (default: start a local one); e.g. auto")
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_const",
        const=False,
        help="evaluate every cell again instead of reusing finished cells and generations from the store",
    )


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", type=Path, help="SQLite results store (default: $RAC_BENCH_STORE or rac-bench-runs/results.sqlite)"
    )


def _run(args) -> int:
    from rac_bench.config import build_config
    from rac_bench.runner import run

    options = {
        k: getattr(args, k)
        for k in (
            "model",
            "methods",
            "sparsity",
            "pattern",
            "tasks",
            "data_dir",
            "output_dir",
            "backend",
            "limit",
            "samples",
            "pass_at_k",
            "max_new_tokens",
            "seed",
            *CALIBRATION_DATA_OPTIONS,
            "ignore",
            "batch_size",
            "threads",
            "device",
            "dtype",
            "cache_dir",
            "store",
            "resume",
            "executor",
            "ray_address",
        )
    }
    if args.vllm:
        options["vllm"] = _engine_options(args.vllm)
    config = build_config(args.config, **options)
    if args.dry_run:
        from rac_bench.estimate import plan_report

        print(plan_report(config, args.gpus if args.gpus is not None else _detected_gpus(config)))
        return 0
    result = run(config, command=" ".join(["rac-bench", *sys.argv[1:]]))
    print(result.table)
    print(f"\nresults written to {result.output_dir}")
    return 0


def _engine_options(flags: list[str]) -> dict:
    """--vllm OPTION=VALUE flags as a mapping (values read as YAML scalars); it updates the config file's vllm:."""
    import yaml

    from rac_bench.errors import ConfigError

    options = {}
    for flag in flags:
        name, separator, value = flag.partition("=")
        if not separator or not name.strip():
            raise ConfigError(f"--vllm takes OPTION=VALUE, e.g. --vllm tensor_parallel_size=4; got {flag!r}")
        options[name.strip()] = yaml.safe_load(value)
    return options


def _detected_gpus(config) -> float:
    """GPUs the run could use: the Ray cluster's (when it joins one), else this machine's CUDA devices."""
    if config.executor == "ray" and config.ray_address:
        import ray

        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False)
        return ray.cluster_resources().get("GPU", 0.0)
    import torch

    return float(torch.cuda.device_count())


def _add_calibration_options(parser: argparse.ArgumentParser) -> None:
    """The options `prune` and `traces` share: which model, and how its calibration set is built."""
    parser.add_argument("--config", type=Path)
    parser.add_argument("--model", help="HF model directory or hub id (default: the embedded tiny reasoner)")
    _add_calibration_data_options(parser)
    parser.add_argument("--data-dir", type=Path, help="local copies of hub data (e.g. openr1_math.jsonl)")
    parser.add_argument("--threads", help="torch threads (default: one per core)")
    _add_placement_options(parser)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cache-dir", type=Path, help="traces and pruned checkpoints (default: $RAC_BENCH_CACHE)")


def _calibration_options(args) -> dict:
    names = ("model", *CALIBRATION_DATA_OPTIONS, "data_dir", "threads", "device", "dtype", "seed", "cache_dir")
    return {name: getattr(args, name) for name in names}


def _prune(args) -> int:
    from rac_bench.config import build_config
    from rac_bench.errors import ConfigError
    from rac_bench.plan import ModelVariant
    from rac_bench.runner import prune

    if args.out.exists():
        raise ConfigError(f"--out {args.out} already exists; give a new directory")
    config = build_config(
        args.config,
        **_calibration_options(args),
        methods=args.method,
        sparsity=args.sparsity,
        pattern=args.pattern,
        ignore=args.ignore,
        output_dir=args.out.parent,
    )
    if len(config.models) != 1 or len(config.methods) != 1 or len(config.targets) != 1:
        raise ConfigError("prune makes one checkpoint: give one --model, --method, --sparsity and --pattern")
    if config.methods == ["dense"]:
        raise ConfigError("dense prunes nothing; give a pruning method, e.g. --method rac")
    report = prune(config, ModelVariant(config.methods[0], config.targets[0]), args.out)
    error = report.get("mean_relative_error")
    print(
        f"{report['method']} {report['pattern']} sparsity {report.get('sparsity', 0):.3f}"
        + (f", mean relative reconstruction error {error:.4f}" if error is not None else "")
        + f", {report['prune_seconds']:.1f}s\ncheckpoint written to {args.out}"
    )
    return 0


def _traces(args) -> int:
    from rac_bench.config import build_config
    from rac_bench.errors import ConfigError
    from rac_bench.runner import prepare

    config = build_config(args.config, **_calibration_options(args))
    if len(config.models) != 1:
        raise ConfigError("traces are built for one model at a time; give one --model")
    calibration = prepare(config).calibration
    sequences = calibration("traces")
    print(
        f"{len(sequences)} on-policy traces, {sum(len(s) for s in sequences)} tokens, cached at "
        f"{calibration.trace_path()}"
    )
    return 0


def _selected_cells(store, models: list[str] | None, tasks: list[str] | None) -> list[dict]:
    from rac_bench.errors import StoreError

    cells = store.latest_cells(models, tasks)
    if not cells:
        raise StoreError(
            f"store {store.path} holds no finished cells" + (" for that selection" if models or tasks else "")
        )
    return cells


def _leaderboard(args) -> int:
    from rac_bench.config import _split, check_writable
    from rac_bench.errors import ConfigError
    from rac_bench.leaderboard.render import EXTENSIONS, render
    from rac_bench.files import write_atomic
    from rac_bench.store import open_store

    formats = _split(args.format)
    unknown = [f for f in formats if f not in EXTENSIONS]
    if unknown or not formats:
        raise ConfigError(f"unknown format {(unknown or [''])[0]!r}; accepted: {', '.join(EXTENSIONS)}")
    if len(formats) > 1 and args.out is None:
        raise ConfigError("several formats need --out PATH (each is written to PATH.<extension>)")
    if args.out is not None:
        check_writable(args.out.parent)
        if len(formats) == 1 and args.out.is_dir():
            raise ConfigError(f"--out {args.out} is a directory; give a file path")
    store = open_store(args.store, create=False)
    try:
        cells = _selected_cells(
            store, _split(args.model) if args.model else None, _split(args.tasks) if args.tasks else None
        )
        commands = store.commands({cell["run_id"] for cell in cells})
        examples = {cell["cell_key"]: store.examples(cell["cell_key"]) for cell in cells} if "html" in formats else {}
    finally:
        store.close()
    for fmt in formats:
        text = render(cells, fmt, args.title, commands, examples)
        if args.out is None:
            print(text, end="")
            continue
        path = args.out if len(formats) == 1 else args.out.with_name(f"{args.out.name}.{EXTENSIONS[fmt]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        print(f"{fmt} leaderboard written to {path}")
    return 0


def _gate(args) -> int:
    from tabulate import tabulate

    from rac_bench.errors import ConfigError
    from rac_bench.leaderboard.baseline import compare, load_baseline
    from rac_bench.leaderboard.table import format_estimate
    from rac_bench.store import open_store

    if args.tolerance is not None and not args.tolerance >= 0:
        raise ConfigError(f"--tolerance must be a number >= 0, got {args.tolerance}")
    baseline = load_baseline(args.baseline)
    store = open_store(args.store, create=False)
    try:
        cells = _selected_cells(store, sorted({c["model"] for c in baseline}), sorted({c["task"] for c in baseline}))
    finally:
        store.close()
    comparisons = compare(baseline, cells, args.metric, args.tolerance)
    rows = [
        [
            c.cell,
            format_estimate(c.baseline),
            format_estimate(c.current),
            f"{c.threshold:.3f}",
            "REGRESSED" if c.regressed else "ok",
        ]
        for c in comparisons
    ]
    rule = "baseline value - tolerance" if args.tolerance is not None else "baseline 95% CI low"
    headers = ["cell", f"baseline {args.metric}", "run", f"threshold ({rule})", "status"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    regressed = sum(c.regressed for c in comparisons)
    print(
        f"\n{regressed} of {len(comparisons)} cells regressed" if regressed else f"\nall {len(comparisons)} cells pass"
    )
    return EXIT_REGRESSION if regressed else 0


def _methods(args) -> int:
    from rac_bench.methods import available_methods

    for name, method in sorted(available_methods().items()):
        print(f"{name:12} {method.description}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rac-bench", description="What pruning really costs a reasoning model.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_parser = commands.add_parser("run", help="prune with each method and evaluate; print the leaderboard")
    _add_run_options(run_parser)
    run_parser.set_defaults(handler=_run)
    prune_parser = commands.add_parser("prune", help="prune once and save a checkpoint that transformers and vLLM load")
    _add_calibration_options(prune_parser)
    prune_parser.add_argument(
        "--method", required=True, help="METHOD[@SOURCE], e.g. rac, sparsegpt, sparsegpt@text, magnitude"
    )
    prune_parser.add_argument("--sparsity", default="0.5")
    prune_parser.add_argument("--pattern", default="unstructured")
    prune_parser.add_argument("--ignore", help="regex of linear-layer names inside decoder layers to leave dense")
    prune_parser.add_argument("--out", type=Path, required=True, help="new directory for the checkpoint")
    prune_parser.set_defaults(handler=_prune)
    traces_parser = commands.add_parser("traces", help="generate (or find) RAC's on-policy traces ahead of time")
    _add_calibration_options(traces_parser)
    traces_parser.set_defaults(handler=_traces)
    leaderboard_parser = commands.add_parser("leaderboard", help="render the leaderboard from the results store")
    _add_store_option(leaderboard_parser)
    leaderboard_parser.add_argument("--model", help="comma list of models to show (default: all)")
    leaderboard_parser.add_argument("--tasks", help="comma list of tasks to show (default: all)")
    leaderboard_parser.add_argument(
        "--format", default="terminal", help="terminal, markdown, csv, latex, html or json; a comma list writes several"
    )
    leaderboard_parser.add_argument("--out", type=Path, help="file to write (several formats: PATH.<extension>)")
    leaderboard_parser.add_argument("--title", default="rac-bench leaderboard", help="title of the HTML page")
    leaderboard_parser.set_defaults(handler=_leaderboard)
    gate_parser = commands.add_parser("gate", help="compare the store's cells with a baseline; exit 1 on regression")
    gate_parser.add_argument(
        "--baseline", type=Path, required=True, help="a JSON leaderboard, e.g. leaderboards/embedded.json"
    )
    _add_store_option(gate_parser)
    gate_parser.add_argument("--metric", default="accuracy", help="accuracy, pass@k or maj@k (default: accuracy)")
    gate_parser.add_argument(
        "--tolerance", type=float, help="allowed drop below the baseline value (default: the baseline's 95%% CI)"
    )
    gate_parser.set_defaults(handler=_gate)
    commands.add_parser("methods", help="list compression methods").set_defaults(handler=_methods)
    commands.add_parser("tasks", help="list tasks").set_defaults(handler=_tasks)
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("rac_bench").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("lm_eval", "lm-eval", "transformers", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        configure_logging(args.verbose)
        return args.handler(args)
    except RacBenchError as error:
        message = str(error)
        print(message if message.startswith("rac-bench") else f"rac-bench: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rac-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

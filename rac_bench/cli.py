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

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise RacBenchError(f"{self.prog}: {message}")


def _add_calibration_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration-samples", help="number of calibration prompts")
    parser.add_argument("--calibration-tokens", help="cap on calibration tokens per source (paper: 1000000)")
    parser.add_argument("--calibration-text", help="the `text` source: a .txt/.jsonl file or hub dataset id")
    parser.add_argument("--cot-weight", help="Hessian weight of chain-of-thought tokens (prompt tokens: 1)")


CALIBRATION_DATA_OPTIONS = ("calibration_samples", "calibration_tokens", "calibration_text", "cot_weight")


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
    parser.add_argument("--cache-dir", type=Path, help="traces and pruned checkpoints (default: $RAC_BENCH_CACHE)")


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
            "cache_dir",
        )
    }
    config = build_config(args.config, **options)
    result = run(config)
    print(result.table)
    print(f"\nresults written to {result.output_dir}")
    return 0


def _add_calibration_options(parser: argparse.ArgumentParser) -> None:
    """The options `prune` and `traces` share: which model, and how its calibration set is built."""
    parser.add_argument("--config", type=Path)
    parser.add_argument("--model", help="HF model directory or hub id (default: the embedded tiny reasoner)")
    _add_calibration_data_options(parser)
    parser.add_argument("--threads", help="torch threads (default: one per core)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cache-dir", type=Path, help="traces and pruned checkpoints (default: $RAC_BENCH_CACHE)")


def _calibration_options(args) -> dict:
    names = ("model", *CALIBRATION_DATA_OPTIONS, "threads", "seed", "cache_dir")
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
    if len(config.methods) != 1 or len(config.targets) != 1:
        raise ConfigError("prune makes one checkpoint: give one --method, one --sparsity and one --pattern")
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
    from rac_bench.runner import prepare

    config = build_config(args.config, **_calibration_options(args))
    _, _, _, calibration = prepare(config)
    sequences = calibration("traces")
    print(
        f"{len(sequences)} on-policy traces, {sum(len(s) for s in sequences)} tokens, cached at "
        f"{calibration.trace_path()}"
    )
    return 0


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
    commands.add_parser("methods", help="list compression methods").set_defaults(handler=_methods)
    commands.add_parser("tasks", help="list tasks").set_defaults(handler=_tasks)
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("rac_bench").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("lm_eval", "lm-eval", "transformers", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args.verbose)
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

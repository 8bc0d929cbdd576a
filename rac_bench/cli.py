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

from rac_bench import commands as handlers
from rac_bench.errors import MethodFailure, RacBenchError

EXIT_BAD_INPUT = 2  # and 1 (EXIT_REGRESSION, commands.py): a failed gate
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
    parser.set_defaults(handler=handlers.prune)


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
    parser.set_defaults(handler=handlers.leaderboard)
    parser = commands.add_parser("compare", help="two stores side by side, cell by cell, with paired differences")
    _add_store_option(parser)
    parser.add_argument(
        "--against", type=Path, required=True, help="the store to compare with (differences: store - against)"
    )
    parser.add_argument("--format", default="terminal", help="terminal, markdown or html")
    parser.add_argument("--out", type=Path, help="file to write (default: print)")
    _add_selector_options(parser)
    parser.set_defaults(handler=handlers.compare)
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
    parser.set_defaults(handler=handlers.gate)
    parser = commands.add_parser("delete", help="delete cells from the results store, by model, task and method")
    _add_store_option(parser)
    _add_selector_options(parser)
    parser.set_defaults(handler=handlers.delete)


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
    run_parser.set_defaults(handler=handlers.run)
    _add_prune_command(commands)
    traces_parser = commands.add_parser("traces", help="generate (or find) RAC's on-policy traces ahead of time")
    _add_model_options(traces_parser)
    traces_parser.set_defaults(handler=handlers.traces)
    _add_report_commands(commands)
    commands.add_parser("methods", help="list compression methods").set_defaults(handler=handlers.methods)
    commands.add_parser("tasks", help="list tasks").set_defaults(handler=handlers.tasks)
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


def entry() -> None:
    """The `rac-bench` console script (and `python -m rac_bench.cli`): `main` in a process that skips the
    interpreter's teardown (rac_bench.process). Tests call `main` in their own process."""
    from rac_bench.process import run_without_teardown

    run_without_teardown(main)


if __name__ == "__main__":
    entry()

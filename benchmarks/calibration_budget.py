"""Calibration data at one equal token budget, on the embedded model (issue 13's evidence): dense, SparseGPT on
prompts, SparseGPT on text and RAC at 50%, for several calibration seeds, with paired 95% intervals against dense
and of RAC against prompt-only SparseGPT.

    python benchmarks/calibration_budget.py [--seeds 0,1,2] [--tokens 16384] [--text-revision 9f17fdc] [--work DIR]

Each seed is one `rac-bench run` into its own store (all 600 problems, greedy); the text corpus is this
repository's README as of one fixed commit (`git show REVISION:README.md`), so that editing the README does not move
the results (the embedded model reads characters, so English prose is as foreign to it as C4 is to a reasoning
model).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

METHODS = ("sparsegpt@prompts", "sparsegpt@text", "rac")


def run_seed(seed: int, args) -> Path:
    store = args.work / f"seed-{seed}.sqlite"
    command = [sys.executable, "-m", "rac_bench.cli", "run", "--methods", ",".join(METHODS), "--sparsity", "0.5"]
    command += ["--calibration-tokens", str(args.tokens), "--calibration-text", str(args.corpus)]
    command += ["--calibration-seed", str(seed), "--threads", str(args.threads), "--store", str(store)]
    command += ["--output-dir", str(args.work / f"run-{seed}"), "--cache-dir", str(args.work / "cache")]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return store


def seed_rows(seed: int, store_path: Path) -> list[list]:
    from rac_bench import metrics
    from rac_bench.leaderboard.rows import format_estimate
    from rac_bench.store import Store
    from rac_bench.versus_dense import per_problem

    store = Store(store_path, read_only=True)
    try:
        cells = {cell.identity.method: cell for cell in store.latest_cells()}
        samples = {method: store.samples(cell.key) for method, cell in cells.items()}
    finally:
        store.close()
    prompts = per_problem(samples["sparsegpt@prompts"], "correct")
    rows = []
    for method in ("dense", *METHODS):
        cell = cells[method]
        versus_prompts = metrics.paired_difference(prompts, per_problem(samples[method], "correct"))
        calibration = (cell.pruning or {}).get("calibration") or {}
        rows.append(
            [
                seed,
                method,
                f"{calibration.get('tokens', 0):,} ({calibration.get('generated_tokens', 0):,} CoT)",
                format_estimate(cell.results.accuracy),
                format_estimate(cell.results.delta_vs_dense, signed=True),
                format_estimate(cell.results.thinking_ratio, digits=2),
                format_estimate(cell.results.truncation),
                format_estimate(versus_prompts, signed=True) if method == "rac" else "-",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--text-revision", default="9f17fdc", help="the commit whose README.md is the text corpus")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-calibration-budget"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.corpus = args.work / "corpus.txt"  # the text source reads .txt and .jsonl files
    readme = subprocess.run(["git", "show", f"{args.text_revision}:README.md"], capture_output=True, check=True)
    args.corpus.write_bytes(readme.stdout)
    started, load = time.time(), os.getloadavg()[0]
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows += seed_rows(seed, run_seed(seed, args))
    headers = ["seed", "method", "calibration tokens", "accuracy", "Δ vs dense", "think × dense", "truncated"]
    print(tabulate(rows, headers=[*headers, "RAC − prompts"], tablefmt="github", disable_numparse=True))
    print(
        f"\n{args.tokens:,} calibration tokens per source; {time.time() - started:.0f} s; load average "
        f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; {args.threads} torch thread(s)"
    )


if __name__ == "__main__":
    main()

"""What quantization costs the embedded reasoner, and whether on-policy calibration helps it: the methods of
configs/embedded-quantization.yaml (RTN, GPTQ on prompts, GPTQ on traces at 4, 3 and 2 bits; SparseGPT and RAC at
50% + 4 bits) for several calibration seeds, with accuracy, thinking against dense, truncation and KL from dense,
and the paired difference of the traces-calibrated variant from the prompts-calibrated one on the same problems.

    python benchmarks/quantization.py [--seeds 0,1,2] [--work DIR]

Each seed is one `rac-bench run --config configs/embedded-quantization.yaml --calibration-seed S` into its own store
(all 600 problems, greedy; RTN takes no calibration, so its cells are the same for every seed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

PAIRS = {
    "gptq:w4@traces": "gptq:w4",
    "gptq:w3@traces": "gptq:w3",
    "gptq:w2@traces": "gptq:w2",
    "rac:w4": "sparsegpt:w4",
}


def run_seed(seed: int, work: Path) -> Path:
    store = work / f"seed-{seed}.sqlite"
    command = [sys.executable, "-m", "rac_bench.cli", "run", "--config", "configs/embedded-quantization.yaml"]
    command += ["--calibration-seed", str(seed), "--store", str(store), "--output-dir", str(work / f"run-{seed}")]
    subprocess.run([*command, "--cache-dir", str(work / "cache")], check=True, stdout=subprocess.DEVNULL)
    return store


def rows_of(seed: int, store_path: Path) -> list[list]:
    from rac_bench import metrics
    from rac_bench.leaderboard.rows import format_estimate
    from rac_bench.store import Store
    from rac_bench.versus_dense import per_problem

    store = Store(store_path, read_only=True)
    try:
        cells = {cell.identity.method: cell for cell in store.latest_cells()}
        correct = {method: per_problem(store.samples(cell.key), "correct") for method, cell in cells.items()}
    finally:
        store.close()
    rows = []
    for method, cell in sorted(cells.items(), key=lambda item: (item[0] != "dense", item[0])):
        paired = "-"
        if method in PAIRS:
            paired = format_estimate(metrics.paired_difference(correct[PAIRS[method]], correct[method]), signed=True)
        rows.append(
            [
                seed,
                method,
                format_estimate(cell.results.accuracy),
                format_estimate(cell.results.thinking_ratio, digits=2),
                format_estimate(cell.results.truncation),
                format_estimate(cell.drift.kl, digits=4) if cell.drift else "-",
                paired,
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-quantization"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    started, load = time.time(), os.getloadavg()[0]
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows += rows_of(seed, run_seed(seed, args.work))
    headers = ["seed", "method", "accuracy", "think × dense", "truncated", "KL from dense", "traces − prompts"]
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    print(f"\n{time.time() - started:.0f} s; load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

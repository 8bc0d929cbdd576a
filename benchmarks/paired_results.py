"""A per-seed results table from `rac-bench run` output directories, one per calibration seed (docs/structured.md,
docs/real-models.md): per method and seed, accuracy, its paired difference from dense (Newcombe's interval, as every
cell's `delta_vs_dense`), thinking tokens over dense's (paired, per problem, with its studentized bootstrap
interval), KL from dense; then the paired differences between methods on the same problems of the same seed.

    python benchmarks/paired_results.py OUT_SEED0 OUT_SEED1 OUT_SEED2 [--pairs width:width@traces,...]

Each OUT is a run's --output-dir (its samples.jsonl and summary.json). The default pairs are the structured table's
(width@traces - width: RAC's traces against prompts; rac - width@traces: zeros against a smaller model at one
budget); a pair whose methods a run lacks is left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rac_bench import metrics
from rac_bench.versus_dense import per_problem

STRUCTURED_PAIRS = "width:width@traces,width@traces:rac,depth:width@traces"


def read_run(directory: Path) -> tuple[dict, dict]:
    """Samples by method, and each method's KL from dense (from summary.json)."""
    samples: dict[str, list[dict]] = {}
    for line in (directory / "samples.jsonl").read_text().splitlines():
        record = json.loads(line)
        samples.setdefault(record["method"], []).append(record)
    kl = {}
    for cell in json.loads((directory / "summary.json").read_text())["cells"]:
        drift = (cell.get("drift") or {}).get("kl")
        kl[cell["identity"]["method"]] = drift["value"] if drift else 0.0
    return samples, kl


def interval(estimate) -> str:
    return f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--pairs", default=STRUCTURED_PAIRS, help="comma list of A:B, each printed as B - A")
    args = parser.parse_args()
    pairs = [tuple(pair.split(":")) for pair in args.pairs.split(",")]
    runs = [read_run(directory) for directory in args.runs]
    columns = ["method", "seed", "problems", "accuracy", "Δ vs dense [95% CI, paired]", "think × dense [95% CI]"]
    columns.append("KL")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for method in runs[0][0]:
        for seed, (samples, kl) in enumerate(runs):
            dense, mine = per_problem(samples["dense"], "correct"), per_problem(samples[method], "correct")
            accuracy = sum(mine.values()) / len(mine)
            if method == "dense":
                print(f"| dense | {seed} | {len(mine)} | {accuracy:.3f} | - | 1.00 | 0 |")
                continue
            delta = metrics.paired_share_difference(dense, mine)
            think = metrics.paired_ratio(
                per_problem(samples["dense"], "thinking_tokens"), per_problem(samples[method], "thinking_tokens")
            )
            ratio = f"{think.value:.2f} [{think.low:.2f}, {think.high:.2f}]"
            row = [method, seed, len(mine), f"{accuracy:.3f}", interval(delta), ratio, f"{kl[method]:.4f}"]
            print("| " + " | ".join(map(str, row)) + " |")
    print("\n| paired difference (same problems) | " + " | ".join(f"seed {s}" for s in range(len(runs))) + " |")
    print("|---|" + "---|" * len(runs))
    for reference, other in pairs:
        if any(reference not in samples or other not in samples for samples, _ in runs):
            continue
        cells = []
        for samples, _ in runs:
            first, second = per_problem(samples[reference], "correct"), per_problem(samples[other], "correct")
            cells.append(interval(metrics.paired_share_difference(first, second)))
        print(f"| {other} − {reference} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""The architectures table of docs/real-models.md: each architecture of tests/architectures.py built tiny and random
from the installed transformers, pruned by `rac-bench prune` with magnitude, Wanda and SparseGPT at 50% (512
calibration tokens of the embedded task's prompts, the embedded tokenizer), with what was pruned, what stayed dense
by rule and the achieved sparsity, as each checkpoint's report counts it in the saved weights.

    python benchmarks/architectures.py [--work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from architectures import ARCHITECTURES, tiny_model  # noqa: E402

METHODS = ("magnitude", "wanda", "sparsegpt")


def pruned_kinds(report: dict) -> str:
    names = [layer["name"] for layer in report["layers"]]
    experts = sorted({name.split(".", 2)[2].split("[")[0] for name in names if name.endswith("]")})
    linear = len({name.split(".", 2)[2] for name in names if not name.endswith("]")})
    kinds = [f"{linear} kinds of linear weight"]
    if experts:
        kinds.append("per-expert matrices of " + ", ".join(name.rsplit(".", 1)[-1] for name in experts))
    return "; ".join(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-architectures"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    from rac_bench.cli import main as rac_bench
    from rac_bench.models import load_model

    _, tokenizer = load_model(None)
    rows = []
    for name in ARCHITECTURES:
        model_dir = args.work / name / "model"
        tiny_model(name).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        achieved, report = [], None
        for method in METHODS:
            out = args.work / name / method
            argv = ["prune", "--model", str(model_dir), "--method", method, "--calibration-tokens", "512"]
            argv += ["--calibration-prompts", "rac_arith"]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = rac_bench([*argv, "--out", str(out), "--cache-dir", str(args.work / "cache")])
            if code != 0:
                sys.exit(f"{name} {method}: exit {code}")
            report = json.loads((out / "rac_bench_report.json").read_text())
            achieved.append(f"{report['achieved_sparsity']['prunable']:.3f}")
        dense = ", ".join(sorted(report["dense_by_rule"]))
        rows.append([name, pruned_kinds(report), dense, " / ".join(achieved)])
    print(tabulate(rows, headers=["architecture", "pruned", "dense by rule", "achieved"], tablefmt="github"))


if __name__ == "__main__":
    main()

"""The README's default-run figure, reproduced on this machine: `rac-bench run --methods sparsegpt,rac --sparsity 0.5`
with an empty cache and store (each run in its own temporary directory), timed from the outside, with the CPU model,
cores and load average beside every time, and how far it is from the README's "Wall time of the whole default run".

    python benchmarks/default_run.py [--runs 2] [--args "--greedy-batch-size 64"] [--keep DIR]

The table is checked too: each run's leaderboard rows (without latency, a timing) must equal the README's table.
Exit code 1 when a table differs. Run it under `flock /tmp/heavy.lock` on a shared machine, and read the load: a
timing taken at load average 1 on 2 cores is not the idle machine's.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["run", "--methods", "sparsegpt,rac", "--sparsity", "0.5"]
README_FIGURE = re.compile(r"\*\*Wall time of the whole default run: ([0-9.]+)(?:–[0-9.]+)? s\*\*")  # a range: its fastest


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def readme_figure() -> float | None:
    found = README_FIGURE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    return float(found.group(1)) if found else None


def readme_rows() -> dict[str, list[str]]:
    """The README's default-run table: method -> its cells, bold marks removed."""
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip().replace("**", "") for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("dense", "rac", "sparsegpt") and len(cells) == 11:
            rows.setdefault(cells[0], cells)
    return rows


def run_rows(output_dir: Path) -> dict[str, list[str]]:
    """The run's leaderboard.md rows with the README's columns (its table has task, problems and latency besides)."""
    lines = (output_dir / "leaderboard.md").read_text(encoding="utf-8").splitlines()
    header = [cell.strip() for cell in lines[0].strip().strip("|").split("|")]
    wanted = [
        "method", "sparsity", "zeros", "accuracy [95% CI]", "Δ vs dense [95% CI]", "think tok [95% CI]",
        "think × dense [95% CI]", "truncated [95% CI]", "self-corrections [95% CI]", "KL from dense [95% CI]",
        "top-1 agree [95% CI]",
    ]  # fmt: skip
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip().replace("**", "") for cell in line.strip().strip("|").split("|")]
        if len(cells) == len(header):
            by_name = dict(zip(header, cells))
            rows[by_name["method"]] = [by_name.get(name, "?") for name in wanted]
    return rows


def one_run(extra: list[str], keep: Path | None) -> tuple[float, str, str, dict]:
    scratch = Path(tempfile.mkdtemp(prefix="rac-bench-default-run-"))
    environment = {**os.environ, "RAC_BENCH_CACHE": str(scratch / "cache"), "PYTHONPATH": str(ROOT)}
    environment.pop("RAC_BENCH_STORE", None)
    command = [sys.executable, "-m", "rac_bench.cli", *COMMAND, *extra]
    command += ["--store", str(scratch / "results.sqlite"), "--output-dir", str(scratch / "out")]
    before = load()
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=scratch, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = load()
    if finished.returncode != 0:
        sys.exit(f"the run failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    rows = run_rows(scratch / "out")
    if keep is not None:
        shutil.copytree(scratch, keep / scratch.name)
    shutil.rmtree(scratch)
    return seconds, before, after, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="runs, each with an empty cache and store (default 2)")
    parser.add_argument("--args", default="", help="extra flags for rac-bench run, e.g. '--greedy-batch-size 64'")
    parser.add_argument("--keep", type=Path, help="copy each run's directory (cache, store, outputs) here")
    args = parser.parse_args()
    figure, expected = readme_figure(), readme_rows()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: rac-bench {' '.join(COMMAND)} {args.args}".rstrip() + " (empty cache and store)")
    same_table, times = True, []
    for index in range(args.runs):
        seconds, before, after, rows = one_run(shlex.split(args.args), args.keep)
        times.append(seconds)
        differs = [name for name in expected if rows.get(name) != expected[name]]
        same_table &= not differs
        print(
            f"run {index + 1}: {seconds:.1f} s wall; load average before {before}, after {after}; table "
            + ("as in the README" if not differs else f"DIFFERS from the README for {', '.join(differs)}")
        )
        for name in differs:
            print(f"  {name}: README {expected[name]}\n  {' ' * len(name)}  run    {rows.get(name)}")
    best = min(times)
    if figure is not None:
        print(
            f"README: {figure:g} s; fastest run here: {best:.1f} s ({best - figure:+.1f} s, {best / figure:.2f}x the "
            "README's figure)"
        )
    return 0 if same_table else 1


if __name__ == "__main__":
    sys.exit(main())

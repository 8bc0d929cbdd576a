"""Issue 32's two front-door timings, from the outside, with the CPU model and load average beside each:

1. a bad flag, `rac-bench run --sparsity 1.5`, answered (one line, exit 2) before any heavy import: target < 1 s;
2. a fully cached rerun of the default run, `rac-bench run --methods sparsegpt,rac --sparsity 0.5` again with the
   cache and store of a first run kept: every cell is read from the store, no model is loaded: target < 2 s.

    python benchmarks/front_door.py [--runs 3] [--keep DIR]

The first run that fills the cache and store is timed too (it is the default run, issue 36's figure; for that one
benchmarks/default_run.py also checks the table against the README's). Exit code 1 when a timing misses its target
or a command's answer is wrong (the bad flag not exit 2 with one line; the rerun's table not the first run's). Run it
under `flock /tmp/heavy.lock` on a shared machine and read the load: a timing at load 1 on 2 cores is not the idle
machine's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_run import ROOT, cpu_model, load  # noqa: E402

BAD_FLAG = ["run", "--sparsity", "1.5"]
DEFAULT_RUN = ["run", "--methods", "sparsegpt,rac", "--sparsity", "0.5"]
TARGETS = {"bad flag": 1.0, "cached rerun": 2.0}


def timed(arguments: list[str], directory: Path, environment: dict) -> tuple[float, subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "rac_bench.cli", *arguments]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True)
    return time.perf_counter() - start, result


def report(name: str, arguments: list[str], seconds: float, ok: bool) -> bool:
    target = TARGETS.get(name)
    verdict = "" if target is None else (" (target < %.0f s: %s)" % (target, "met" if seconds < target else "MISSED"))
    print(f"{name:13} {seconds:6.2f} s  load {load()}  rac-bench {' '.join(arguments)}{verdict}"
          + ("" if ok else "  WRONG ANSWER"))
    return ok and (target is None or seconds < target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timings of the bad flag and of the cached rerun")
    parser.add_argument("--keep", type=Path, help="keep the scratch directory (cache, store, outputs) here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="rac-bench-front-door-"))
    environment = {**os.environ, "RAC_BENCH_CACHE": str(scratch / "cache"), "PYTHONPATH": str(ROOT)}
    environment.pop("RAC_BENCH_STORE", None)  # the default store, under the scratch directory (the working one)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    good = True
    try:
        for _ in range(args.runs):
            seconds, result = timed(BAD_FLAG, scratch, environment)
            one_line = result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
            good &= report("bad flag", BAD_FLAG, seconds, one_line)
        seconds, first = timed([*DEFAULT_RUN, "--output-dir", "first"], scratch, environment)
        good &= report("first run", DEFAULT_RUN, seconds, first.returncode == 0)
        for index in range(args.runs):
            seconds, again = timed([*DEFAULT_RUN, "--output-dir", f"again-{index}"], scratch, environment)
            same = again.returncode == 0 and (scratch / f"again-{index}" / "leaderboard.md").read_text() == (
                scratch / "first" / "leaderboard.md"
            ).read_text()
            good &= report("cached rerun", DEFAULT_RUN, seconds, same)
    finally:
        if args.keep:
            shutil.copytree(scratch, args.keep, dirs_exist_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())

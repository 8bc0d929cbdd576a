"""The default run on a machine that something else is using: torch threads chosen by default, or given by
--threads, with and without a busy process beside the run.

    python benchmarks/threads.py [--threads default,1,2] [--busy 1,0]

Each run is the README's first command, `rac-bench run --methods sparsegpt,rac --sparsity 0.5`, from scratch:
a new store, cache (so RAC's traces and both checkpoints are made again) and output directory. The busy process
is `python -c 'while True: pass'`, started two seconds before the run and killed after it. The load average is
read just before each run starts (the busy process is not yet in it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

COMMAND = ["run", "--methods", "sparsegpt,rac", "--sparsity", "0.5"]


def timed_run(threads: str, busy: bool, scratch: Path) -> list:
    load = os.getloadavg()[0]
    options = [] if threads == "default" else ["--threads", threads]
    paths = ["--store", scratch / "s.sqlite", "--cache-dir", scratch / "cache", "--output-dir", scratch / "out"]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(2 if busy else 0)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rac_bench.cli", *COMMAND, *options, *map(str, paths)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    used = json.loads((scratch / "out" / "summary.json").read_text())["threads"]
    return ["yes" if busy else "no", threads, used, f"{seconds:.1f}", f"{load:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="default,1,2", help="comma list: 'default' or a number of threads")
    parser.add_argument("--busy", default="1,0", help="comma list: 1 with a busy process beside the run, 0 without")
    args = parser.parse_args()
    rows = []
    for busy in args.busy.split(","):
        for threads in args.threads.split(","):
            with tempfile.TemporaryDirectory() as scratch:
                rows.append(timed_run(threads, busy == "1", Path(scratch)))
            print(rows[-1], flush=True)
    print(f"{os.cpu_count()} cores; rac-bench {' '.join(COMMAND)}")
    print(tabulate(rows, headers=["busy process", "--threads", "threads used", "wall s", "load avg (1 min) before"]))


if __name__ == "__main__":
    main()

"""How much longer one pruned method thinks than another, paired per problem (issue 14's target: RAC's inflation
smaller than prompt-only SparseGPT's, with a paired interval that excludes 0).

    python benchmarks/thinking_inflation.py --store STORE [--methods rac,sparsegpt]

For each sparsity both methods were run at, the mean over problems of (thinking_a − thinking_b) / thinking_dense,
with a 95% bootstrap interval over problems: the difference of their per-problem inflations, in dense lengths.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rac_bench import metrics
from rac_bench.store import Store
from rac_bench.versus_dense import per_problem


def thinking(store: Store, cell) -> dict:
    """Each problem's mean thinking tokens in `cell`."""
    return per_problem(store.samples(cell.key), "thinking_tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--methods", default="rac,sparsegpt")
    args = parser.parse_args()
    first, second = args.methods.split(",")
    store = Store(args.store, read_only=True)
    try:
        cells, dense = {}, {}
        for cell in store.latest_cells():
            who = cell.identity
            if who.method == "dense":
                dense[(who.model, who.task)] = cell
            else:
                cells.setdefault((who.model, who.task, who.pattern, who.sparsity), {})[who.method] = cell
        for (model, task, pattern, sparsity), methods in sorted(cells.items()):
            if first not in methods or second not in methods or (model, task) not in dense:
                continue
            dense_thinking = thinking(store, dense[(model, task)])
            a, b = thinking(store, methods[first]), thinking(store, methods[second])
            paired = [(a[p] - b[p]) / dense_thinking[p] for p in dense_thinking if dense_thinking[p] > 0]
            difference = metrics.bootstrap_mean(paired)
            print(
                f"{model} {task} {pattern} {sparsity:g}: ({first} − {second}) / dense thinking tokens, per problem: "
                f"{difference.value:+.2f} [{difference.low:+.2f}, {difference.high:+.2f}]"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()

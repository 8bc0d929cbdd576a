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


def per_problem(store: Store, cell) -> dict:
    samples = store.samples(cell.key)
    return metrics.per_problem_scores([s["doc_id"] for s in samples], [float(s["thinking_tokens"]) for s in samples])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--methods", default="rac,sparsegpt")
    args = parser.parse_args()
    first, second = args.methods.split(",")
    store = Store(args.store, read_only=True)
    try:
        cells = {(c.identity.task, c.identity.method, c.identity.sparsity): c for c in store.latest_cells()}
        for (task, method, sparsity), cell in sorted(cells.items()):
            other = cells.get((task, second, sparsity))
            if method != first or other is None:
                continue
            dense = per_problem(store, cells[(task, "dense", 0.0)])
            a, b = per_problem(store, cell), per_problem(store, other)
            difference = metrics.bootstrap_mean([(a[p] - b[p]) / dense[p] for p in dense if dense[p] > 0])
            print(
                f"{task} {sparsity:g}: ({first} − {second}) / dense thinking tokens, per problem: "
                f"{difference.value:+.2f} [{difference.low:+.2f}, {difference.high:+.2f}]"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()

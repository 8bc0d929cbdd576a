"""What a variant costs to serve, beside what it scores: seconds per problem and per correct answer (end to end, at
the run's batch), decode speedup over dense (dense's time per generated token over the variant's, same backend and
batch, measured in the same run), and the bytes of the weights as served (a packed checkpoint's codes and scales;
simulated compression's full dense weights). With thinking × dense these explain the end-to-end ratio:
seconds_per_problem / dense's ≈ (thinking × dense) / decode_speedup, where decoding dominates.

A run measures each cell once, so its timings are as noisy as the machine: the load average is recorded beside
them. benchmarks/packed.py measures decode speed with warm-up excluded, interleaved repeats and medians."""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import safe_open


def weight_bytes(checkpoint: str | Path | None, model=None) -> int | None:
    """Bytes of the tensors a checkpoint directory stores (as vLLM loads them: packed codes and scales count as
    stored, tied embeddings once); for an in-memory model without a directory, its parameters' bytes."""
    files = sorted(Path(checkpoint).glob("*.safetensors")) if checkpoint and Path(checkpoint).is_dir() else []
    if files:
        total = 0
        for file in files:
            with safe_open(str(file), "pt") as weights:
                for key in weights.keys():
                    tensor = weights.get_slice(key)
                    count = 1
                    for size in tensor.get_shape():
                        count *= size
                    total += count * _element_size(tensor.get_dtype())
        return total
    if model is None:
        return None
    unique = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() * p.element_size() for p in unique)


_SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _element_size(dtype: str) -> int:
    return _SIZES.get(dtype.upper(), 4)


def cost_record(results, dense_results, served_bytes: int | None) -> dict:
    """The cell's cost columns from its results and dense's (by name; dense: decode_speedup 1 by definition)."""
    problems = results["problems"] or 1
    seconds_per_problem = results["eval_seconds"] / problems
    correct = results["accuracy"].value
    speedup = 1.0
    if dense_results is not None:
        ours, dense = _seconds_per_token(results, dense_results)
        speedup = dense / ours if ours and dense else None
    return {
        "seconds_per_problem": seconds_per_problem,
        "seconds_per_correct": seconds_per_problem / correct if correct > 0 else None,
        "decode_speedup": speedup,
        "weight_bytes": served_bytes,
        "load_average": os.getloadavg()[0],
    }


def _seconds_per_token(results, dense_results) -> tuple[float | None, float | None]:
    """The engine's decode time per token after the first where both cells have it (vLLM), else generate time
    over generated tokens for both (HF: prefill included, the same way on both sides)."""
    if results.get("seconds_per_output_token") and dense_results.get("seconds_per_output_token"):
        return results["seconds_per_output_token"], dense_results["seconds_per_output_token"]
    return tuple(
        r["generate_seconds"] / r["generated_tokens"] if r["generated_tokens"] else None
        for r in (results, dense_results)
    )


FRONTIER_COSTS = ("seconds_per_problem", "weight_bytes")
FRONTIER_MARK = "◆"
FRONTIER_NOTE = f"{FRONTIER_MARK}: on the frontier, no other variant of the task both more accurate and cheaper there"


def frontier(points: dict[str, tuple[float, float | None]]) -> set[str]:
    """The names no other point beats on both accuracy (higher) and cost (lower): each point is (accuracy, cost),
    and one with no cost is on no frontier. Ties on both stay on it together."""
    known = {name: point for name, point in points.items() if point[1] is not None}

    def beaten(accuracy: float, cost: float) -> bool:
        return any(
            (a >= accuracy and c <= cost) and (a > accuracy or c < cost) for a, c in known.values()
        )

    return {name for name, (accuracy, cost) in known.items() if not beaten(accuracy, cost)}


def cell_frontiers(cells) -> dict[str, set[str]]:
    """Per cost column, the keys of the cells on the frontier of their model and task."""
    groups: dict[tuple[str, str], list] = {}
    for cell in cells:
        groups.setdefault((cell.identity.model, cell.identity.task), []).append(cell)
    marked = {column: set() for column in FRONTIER_COSTS}
    for group in groups.values():
        for column in FRONTIER_COSTS:
            points = {c.key: (c.results["accuracy"].value, (c.cost or {}).get(column)) for c in group}
            marked[column] |= frontier(points)
    return marked

"""The leaderboard table of a run's cells: one row per method, sparsity and task."""

from __future__ import annotations

from tabulate import tabulate

HEADERS = [
    "task",
    "method",
    "sparsity",
    "accuracy [95% CI]",
    "Δ vs dense [95% CI]",
    "think tok",
    "answer tok",
    "truncated",
    "eval s",
    "prune s",
]


def format_estimate(estimate: dict | None, signed: bool = False, digits: int = 3) -> str:
    if estimate is None:
        return "-"
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"{estimate['value']:{spec}} [{estimate['low']:{spec}}, {estimate['high']:{spec}}]"


def target_label(cell: dict) -> str:
    """'-' for dense, the N:M pattern, or the unstructured sparsity."""
    if cell["method"] == "dense":
        return "-"
    return cell["pattern"] if cell["pattern"] != "unstructured" else f"{cell['sparsity']:g}"


def variant_label(cell: dict) -> str:
    """e.g. 'dense', 'rac-0.5', 'sparsegpt-2:4'."""
    return cell["method"] if cell["method"] == "dense" else f"{cell['method']}-{target_label(cell)}"


def cell_row(cell: dict) -> list:
    sparsity = target_label(cell)
    return [
        cell["task"],
        cell["method"],
        sparsity,
        format_estimate(cell["accuracy"]),
        "-" if cell["method"] == "dense" else format_estimate(cell.get("delta_vs_dense"), signed=True),
        f"{cell['mean_thinking_tokens']:.1f}",
        f"{cell['mean_answer_tokens']:.1f}",
        f"{cell['truncation_rate']:.3f}",
        f"{cell['eval_seconds']:.1f}",
        f"{cell['prune_seconds']:.1f}",
    ]


def render_table(cells: list[dict], table_format: str = "simple") -> str:
    """The run's table; with several models, a model column first."""
    rows, headers = [cell_row(c) for c in cells], HEADERS
    if len({c["model"] for c in cells}) > 1:
        rows, headers = [[c["model"], *row] for c, row in zip(cells, rows)], ["model", *HEADERS]
    return tabulate(rows, headers=headers, tablefmt=table_format, disable_numparse=True)

"""The leaderboard's one table definition, independent of its format: which cells, in what order, which
columns, and which entry is best in its column. A run's `leaderboard.md` and terminal table and every format
of `rac-bench leaderboard` are rendered from it.

"Best" is decided among the pruned cells of one model and task at the same sparsity target, measured on the same
problems, since that is the comparison a reader makes (which method wins at 50%?); dense is the reference, never
the best, and when every candidate ties (all at 0.000, say) none is. Cells of one task measured on different
problem sets (a `--limit 30` run beside a full one) are ordered as separate groups, and the problems column tells
them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rac_bench.cells import Cell
from rac_bench.errors import ConfigError
from rac_bench.metrics import Estimate


@dataclass(frozen=True)
class Column:
    key: str  # the machine name: --columns, CSV headers, JSON keys, #sort=KEY-desc
    name: str  # the header a reader sees
    kind: str  # "text", "estimate" (value with a CI) or "number"
    read: Callable[[Cell], object]  # cell -> str, Estimate or float (None: not measured)
    higher_is_better: bool | None = None  # None: not ranked
    digits: int = 3
    hidden_unless: str = "always"  # always shown; "measured": some cell has a value; "varies": values differ

    @property
    def short_name(self) -> str:
        """The header without its interval note, for formats that say once what the brackets are."""
        return self.name.removesuffix(" [95% CI]")


def _with_samples(read: Callable[[Cell], object]) -> Callable[[Cell], object]:
    """A metric that only says something with several samples per problem (greedy pass@1 is the accuracy)."""
    return lambda cell: read(cell) if cell.results.samples_per_problem > 1 else None


def _at_n(table: str) -> Callable[[Cell], Estimate | None]:
    """pass@n or maj@n at n = the samples per problem."""
    return lambda cell: getattr(cell.results, table).get(str(cell.results.samples_per_problem))


def _quantization(cell: Cell) -> dict | None:
    return cell.settings.get("quantization")


def quantization_bits(cell: Cell) -> int | None:
    return (_quantization(cell) or {}).get("bits")


def _group(cell: Cell) -> str | None:
    """The inputs that share one scale: a group size, or `row` (one per output row)."""
    quantization = _quantization(cell)
    if not quantization:
        return None
    return str(quantization["group_size"]) if quantization["group_size"] else "row"


def _calibration(part: str) -> Callable[[Cell], int | None]:
    """Tokens of the variant's calibration set: its task prompts or the generated chain of thought."""
    return lambda cell: ((cell.pruning or {}).get("calibration") or {}).get(part)


COLUMNS = [
    Column("model", "model", "text", lambda c: c.identity.model, hidden_unless="varies"),
    Column("task", "task", "text", lambda c: c.identity.task),
    Column("method", "method", "text", lambda c: c.identity.method),
    Column(
        "sparsity", "sparsity", "text", lambda c: None if c.identity.target_label == "-" else c.identity.target_label
    ),
    # zeros over the prunable weights, counted in the weights evaluated (rac_bench.pruning.achieved)
    Column(
        "achieved", "achieved", "number", lambda c: (c.achieved_sparsity or {}).get("prunable"), None, 3, "measured"
    ),
    Column("bits", "bits", "number", quantization_bits, None, 0, "measured"),
    Column("group", "group", "text", lambda c: _group(c), hidden_unless="measured"),
    Column("problems", "problems", "number", lambda c: c.results.problems, None, 0),
    Column("accuracy", "accuracy [95% CI]", "estimate", lambda c: c.results.accuracy, True),
    Column("delta_vs_dense", "Δ vs dense [95% CI]", "estimate", lambda c: c.delta_vs_dense, True),
    Column("n", "n", "number", _with_samples(lambda c: c.results.samples_per_problem), None, 0, "measured"),
    Column(
        "pass@1",
        "pass@1 [95% CI]",
        "estimate",
        _with_samples(lambda c: c.results.pass_at_k.get("1")),
        True,
        3,
        "measured",
    ),
    Column("pass@n", "pass@n [95% CI]", "estimate", _with_samples(_at_n("pass_at_k")), True, 3, "measured"),
    Column("maj@n", "maj@n [95% CI]", "estimate", _with_samples(_at_n("maj_at_k")), True, 3, "measured"),
    # neither more nor fewer thinking tokens is better in itself
    Column("thinking_tokens", "think tok [95% CI]", "estimate", lambda c: c.results.thinking_tokens, None, 1),
    Column("thinking_ratio", "think × dense [95% CI]", "estimate", lambda c: c.thinking_ratio, None, 2),
    Column("answer_tokens", "answer tok", "number", lambda c: c.results.answer_tokens, None, 1),
    Column("truncation", "truncated [95% CI]", "estimate", lambda c: c.results.truncation, False),
    # closed the thinking, then hit the token limit: graded on the answer, counted apart
    Column(
        "limit_after_answer",
        "limit after answer [95% CI]",
        "estimate",
        lambda c: c.results.limit_after_answer,
        None,
        3,
        "measured",
    ),
    Column("accuracy_completed", "acc. completed [95% CI]", "estimate", lambda c: c.results.accuracy_completed, True),
    Column(
        "accuracy_truncated",
        "acc. truncated [95% CI]",
        "estimate",
        lambda c: c.results.accuracy_truncated,
        None,
        3,
        "measured",
    ),
    Column("self_corrections", "self-corrections [95% CI]", "estimate", lambda c: c.results.self_corrections, None, 2),
    Column("kl", "KL from dense [95% CI]", "estimate", lambda c: c.drift.kl if c.drift else None, False, 4),
    Column("kl_p95", "KL p95", "number", lambda c: c.drift.kl_p95 if c.drift else None, False, 3),
    Column(
        "top1_agreement",
        "top-1 agree [95% CI]",
        "estimate",
        lambda c: c.drift.top1_agreement if c.drift else None,
        True,
    ),
    Column("latency_seconds", "latency s", "number", lambda c: c.results.latency_seconds, False, 3),
    Column("first_token_seconds", "TTFT s", "number", lambda c: c.results.first_token_seconds, False, 3, "measured"),
    Column(
        "seconds_per_output_token",
        "s per token",
        "number",
        lambda c: c.results.seconds_per_output_token,
        False,
        4,
        "measured",
    ),
    Column("eval_seconds", "eval s", "number", lambda c: c.results.eval_seconds, None, 1),
    Column("prune_seconds", "prune s", "number", lambda c: c.prune_seconds, False, 1),
    Column(
        "calibration_prompt_tokens", "calib. prompt tok", "number", _calibration("prompt_tokens"), None, 0, "measured"
    ),
    Column("calibration_cot_tokens", "calib. CoT tok", "number", _calibration("generated_tokens"), None, 0, "measured"),
]
BY_KEY = {column.key: column for column in COLUMNS}
# What fits a terminal or a paper's page: the default of those formats (`--columns all` shows every column)
HEADLINE = (
    "model",
    "task",
    "method",
    "sparsity",
    "achieved",
    "bits",
    "group",
    "problems",
    "accuracy",
    "delta_vs_dense",
    "pass@n",
    "maj@n",
    "thinking_tokens",
    "thinking_ratio",
    "truncation",
    "kl",
    "latency_seconds",
)


def chosen_columns(keys: list[str] | None) -> list[Column] | None:
    """The columns `--columns` names, in its order; None: the format's default. Unknown keys are refused."""
    if keys is None:
        return None
    if keys == ["all"]:
        return list(COLUMNS)
    unknown = [key for key in keys if key not in BY_KEY]
    if unknown:
        raise ConfigError(f"unknown column {unknown[0]!r}; accepted: all, {', '.join(BY_KEY)}")
    return [BY_KEY[key] for key in keys]


@dataclass(frozen=True)
class Entry:
    text: str
    sort_value: float | str | None
    best: bool
    value: object = None  # what the column read: str, Estimate, number or None


def numeric(value) -> float | None:
    """The number a column is ranked and plotted by: an estimate's point value or the number itself."""
    if value is None:
        return None
    number = value.value if isinstance(value, Estimate) else value
    return None if number is None or (isinstance(number, float) and math.isnan(number)) else float(number)


def format_estimate(estimate: Estimate | None, signed: bool = False, digits: int = 3) -> str:
    if estimate is None or numeric(estimate) is None:  # not measured, or undefined (stored as null)
        return "-"
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"{estimate.value:{spec}} [{estimate.low:{spec}}, {estimate.high:{spec}}]"


def _text(column: Column, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, Estimate):
        return format_estimate(value, signed=column.name.startswith("Δ"), digits=column.digits)
    if column.kind in ("number", "estimate"):
        number = numeric(value)
        return "-" if number is None else f"{number:.{column.digits}f}"
    return str(value)


def problem_set(cell: Cell) -> tuple:
    """Which problems a cell was measured on: its data, limit and samples per problem."""
    settings = cell.settings
    return (str(settings.get("data")), settings.get("limit") or 0, cell.results.problems, cell.results.samples)


def order_cells(cells: list[Cell]) -> list[Cell]:
    """By model and task, then problem set, then dense first, pattern, sparsity and method."""
    return sorted(cells, key=lambda c: (*c.identity.sort_key()[:2], problem_set(c), *c.identity.sort_key()[2:]))


def shown_columns(cells: list[Cell], headline: bool = False) -> list[Column]:
    """The columns worth a reader's space for these cells (`headline`: of the HEADLINE ones)."""
    shown = []
    for column in COLUMNS:
        if headline and column.key not in HEADLINE:
            continue
        values = [column.read(cell) for cell in cells]
        if column.hidden_unless == "measured" and all(value is None for value in values):
            continue
        if column.hidden_unless == "varies" and len({str(value) for value in values}) < 2:
            continue
        shown.append(column)
    return shown


def rank_group(cell: Cell) -> tuple:
    """What a compressed cell is ranked against: the cells of the same pattern, sparsity and bits."""
    return (cell.identity.pattern, cell.identity.sparsity, quantization_bits(cell))


def best_in_groups(groups, columns: list[Column], value: Callable[[int, Column], object]) -> set[tuple[int, str]]:
    """(member, column key) of the best entries in each group of more than one member, for every ranked column;
    `value(member, column)` reads an entry."""
    best = set()
    for members in (m for m in groups if len(m) > 1):
        for column in (c for c in columns if c.higher_is_better is not None):
            winners = best_among([(numeric(value(m, column)), m) for m in members], column.higher_is_better)
            best.update((m, column.key) for m in winners)
    return best


def _best(cells: list[Cell], columns: list[Column]) -> set[tuple[int, str]]:
    groups: dict[tuple, list[int]] = {}
    for index, cell in enumerate(cells):
        if not cell.identity.is_dense:
            key = (cell.identity.model, cell.identity.task, problem_set(cell), *rank_group(cell))
            groups.setdefault(key, []).append(index)
    return best_in_groups(groups.values(), columns, lambda index, column: column.read(cells[index]))


def best_among(scored: list[tuple[float | None, object]], higher_is_better: bool) -> set:
    """The keys of the best values (None: not measured); none when every value ties (say all at 0.000)."""
    measured = [(value, key) for value, key in scored if value is not None]
    if len({value for value, _ in measured}) < 2:
        return set()
    target = (max if higher_is_better else min)(value for value, _ in measured)
    return {key for value, key in measured if value == target}


def leaderboard_rows(cells: list[Cell], columns: list[Column]) -> list[list[Entry]]:
    """One row of entries per cell, in `order_cells` order."""
    cells = order_cells(cells)
    best = _best(cells, columns)
    rows = []
    for index, cell in enumerate(cells):
        row = []
        for column in columns:
            value = column.read(cell)
            number = numeric(value) if column.kind != "text" else None
            if column.kind == "text":
                sort_value = "" if value is None else str(value)
            else:
                sort_value = number  # None: not measured, sorted last either way
            row.append(Entry(_text(column, value), sort_value, (index, column.key) in best, value))
        rows.append(row)
    return rows

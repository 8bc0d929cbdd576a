"""The metric catalogue: every column and metric rac-bench reports, declared once (rac_bench/catalogue/builtin.py),
and read by everything that shows, stores, gates or compares one: a cell's results (decoded through it), every
leaderboard format, the gate and its baselines, `compare`, the site's index, the lm-eval export and the CLI's help.

A new metric is one `register(Metric(...))`: it then has a column in every table, a key in CSV and JSON, and, as
its declaration says, a place in baselines and the gate, in `compare` and in the site's index. Its direction (which
way is better) lives here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rac_bench.metrics import Estimate

SHOWN = ("always", "measured", "varies", "never")
STORED = ("estimate", "estimates")


@dataclass(frozen=True)
class Metric:
    key: str  # the machine name: --columns, --metric, CSV headers, JSON keys, #sort=KEY-desc
    header: str  # what a reader sees
    kind: str = "estimate"  # "text", "number" or "estimate" (a value with its 95% interval)
    read: Callable | None = None  # cell -> str, Estimate or number (None: not measured); default: stored result
    source: str = ""  # what it is computed from
    interval: str = ""  # how it is aggregated, and its interval
    direction: str | None = None  # "higher" or "lower" is better; None: neither
    ranked: bool = True  # tables mark the best of a group, where it has a direction
    digits: int = 3
    signed: bool = False  # shown with its sign (a difference)
    shown: str = "always"  # as a table column: always, "measured" (some cell has it), "varies", "never" (no column)
    headline: bool = False  # among the columns a terminal or a paper's page shows by default
    gate: int | None = None  # gated: its place among a baseline's metrics (None: not gated)
    family: Callable | None = None  # a gated family (pass@k): cell -> {name: Estimate}
    versus_dense: bool = False  # measured against dense: dense's own cells have none
    compared_over: str | None = None  # `compare` pairs it per problem over this field of the samples
    index_mean: bool = False  # the site's index shows its mean over tasks
    lm_eval: str | None = None  # the lm-eval metric whose value (and interval) it gives in the export
    stored: str | None = None  # kept in a cell's results: "estimate" or "estimates" (by k); None: read only
    results_key: str | None = None  # the name it is stored under (default: key)
    compute: Callable | None = None  # records -> value: computed from the samples when a cell is evaluated

    def __post_init__(self):
        if self.kind not in ("text", "number", "estimate") or self.shown not in SHOWN:
            raise ValueError(f"metric {self.key!r}: kind {self.kind!r} or shown {self.shown!r} is not known")
        if self.direction not in (None, "higher", "lower") or self.stored not in (None, *STORED):
            raise ValueError(f"metric {self.key!r}: direction {self.direction!r} or stored {self.stored!r}")

    @property
    def stored_as(self) -> str:
        return self.results_key or self.key

    @property
    def higher_is_better(self) -> bool | None:
        """Which way tables rank it (None: not ranked)."""
        return None if self.direction is None or not self.ranked else self.direction == "higher"

    @property
    def short_header(self) -> str:
        """The header without its interval note, for formats that say once what the brackets are."""
        return self.header.removesuffix(" [95% CI]")

    def value(self, cell):
        return self.read(cell) if self.read is not None else cell.results.get(self.stored_as)


_CATALOGUE: dict[str, Metric] = {}


def register(metric: Metric, after: str | None = None) -> Metric:
    """Add a metric (last, or right after the column `after`); a key is declared once."""
    if metric.key in _CATALOGUE:
        raise ValueError(f"metric {metric.key!r} is declared twice")
    if after is None:
        _CATALOGUE[metric.key] = metric
        return metric
    entries = list(_CATALOGUE.items())
    position = [key for key, _ in entries].index(after) + 1
    entries.insert(position, (metric.key, metric))
    _CATALOGUE.clear()
    _CATALOGUE.update(entries)
    return metric


def unregister(key: str) -> None:
    _CATALOGUE.pop(key)


def metrics() -> list[Metric]:
    """Every declared metric and column, in table order."""
    return list(_CATALOGUE.values())


def get(key: str) -> Metric:
    return _CATALOGUE[key]


def columns() -> list[Metric]:
    return [m for m in _CATALOGUE.values() if m.shown != "never"]


def gated() -> list[Metric]:
    """The gated metrics, in a baseline's order."""
    return sorted((m for m in _CATALOGUE.values() if m.gate is not None), key=lambda m: m.gate)


def gated_metric(name: str) -> Metric | None:
    """The gated metric a name stands for: `pass@4` is one of the family `pass@k`."""
    found = _CATALOGUE.get(name) or _CATALOGUE.get(re.sub(r"@\d+$", "@k", name))
    return found if found is not None and found.gate is not None else None


def gated_values(cell) -> dict[str, Estimate]:
    """Every gated metric of a cell that was measured, by name, in a baseline's order."""
    found: dict[str, object] = {}
    for metric in gated():
        if metric.family is not None:
            found.update(metric.family(cell))
        else:
            found[metric.key] = metric.value(cell)
    return {name: value for name, value in found.items() if _defined(value)}


def _defined(value) -> bool:
    return isinstance(value, Estimate) and value.value is not None and value.value == value.value


def gate_help() -> str:
    """The gate's --metric choices by direction, as its help says them."""
    parts = []
    for direction in ("higher", "lower"):
        names = [m.key for m in gated() if m.direction == direction]
        parts.append(f"{', '.join(names)} ({direction} is better)")
    return "comma list of " + "; ".join(parts) + " (default: accuracy)"


def decode_results(record: dict) -> dict:
    """A stored results mapping with every stored metric decoded (Estimates), the rest as stored; a metric
    declared since the cell was stored reads as None."""
    decoded = dict(record)
    for metric in _CATALOGUE.values():
        if metric.stored is None:
            continue
        value = record.get(metric.stored_as)
        if metric.stored == "estimate":
            decoded[metric.stored_as] = Estimate(**value) if value else None
        else:
            decoded[metric.stored_as] = {k: Estimate(**e) for k, e in (value or {}).items()}
    return decoded


def stored_keys() -> list[str]:
    return [m.stored_as for m in _CATALOGUE.values() if m.stored is not None]


def computed(records: list[dict]) -> dict:
    """The metrics declared with a `compute`, from a cell's sample records."""
    return {m.stored_as: m.compute(records) for m in _CATALOGUE.values() if m.compute is not None}


from rac_bench.catalogue import builtin  # noqa: E402,F401  (the built-in metrics register themselves)

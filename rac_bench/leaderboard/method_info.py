"""What the leaderboards say of each method in their cells: its one-line description, paper link and package, as
recorded in the cells' provenance when they were measured (so a store rendered where a plugin is not installed
still describes it), else as the installed registry has it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rac_bench.cells import Cell


@dataclass(frozen=True)
class MethodInfo:
    label: str  # the method as written in the run (`sparsegpt@text`, `rtn:w4g128`)
    name: str  # the registered method it runs (`sparsegpt`, `rtn`)
    description: str | None
    paper: str | None
    distribution: str | None  # the package that provides it ("rac-bench" for a built-in)
    version: str | None
    calibrated_on: str | None = None  # the calibration source its cells read (`sparsegpt@traces`: traces)

    @property
    def summary(self) -> str:
        """The description, and the source where the label changes the method's own (`gptq@traces`)."""
        text = self.description or "no description recorded"
        return f"{text}; here calibrated on {self.calibrated_on}" if "@" in self.label and self.calibrated_on else text


def _web_link(url) -> str | None:
    """A paper link the pages may show: http(s) only (a store is data, and `javascript:` is not a paper)."""
    return url if isinstance(url, str) and re.fullmatch(r"https?://[^\s\"'<>]+", url) else None


def method_name(cell: Cell) -> str:
    """The registered method a cell's label runs: `sparsegpt@text` -> sparsegpt, `q=checkpoint:DIR` -> checkpoint."""
    if cell.identity.is_outside:
        return "checkpoint"
    return re.split("[:@]", cell.identity.method, maxsplit=1)[0]


def method_infos(cells: list[Cell]) -> dict[str, MethodInfo]:
    """Each method label of `cells`, sorted, with what is known of it."""
    from rac_bench.provenance import method_descriptions

    found: dict[str, MethodInfo] = {}
    installed = method_descriptions()
    for cell in sorted(cells, key=lambda c: c.identity.method):
        label = cell.identity.method
        if label in found:
            continue
        name = method_name(cell)
        recorded = (cell.provenance.get("methods") or {}).get(name) or installed.get(name, {})
        found[label] = MethodInfo(
            label,
            name,
            recorded.get("description"),
            _web_link(recorded.get("paper")),
            recorded.get("distribution"),
            recorded.get("version"),
            ((cell.pruning or {}).get("calibration") or {}).get("source"),
        )
    return found

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
    quantization: dict | None = None  # the grid its cells were rounded to, as recorded (bits, group_size, ...)
    calibration_tokens: dict | None = None  # the calibration manifest's tokens, prompt_tokens, generated_tokens

    @property
    def summary(self) -> str:
        """The description as written where the label is the method's plain name (`rac`, a plugin's); where the label
        sets its own grid or calibration (`gptq:w3@traces`), the description without its example spec and
        calibration, then this variant's as its cells record them: "GPTQ weight quantization: 3 bits, one scale per
        row; calibrated on traces (16,384 tokens: ...)", not the registry's example `gptq:w4g128` on prompts."""
        if not self.description:
            return "no description recorded"
        if not re.search("[:@]", self.label) or self.name == "checkpoint":
            return self.description
        method = re.sub(EXAMPLE_SPEC, "", self.description)
        method = re.sub(CALIBRATION_CLAUSE, "", method).strip()
        grid = _grid(self.quantization)
        if self.calibrated_on:
            calibration = f"calibrated on {self.calibrated_on}{_tokens(self.calibration_tokens or {})}"
        else:
            calibration = "no calibration"
        return f"{method}: {grid}; {calibration}" if grid else f"{method}; {calibration}"


EXAMPLE_SPEC = r"\s*\([\w-]+:[^)]*\)"  # "(gptq:w4g128)": an example label in a registry's description
CALIBRATION_CLAUSE = r"[,;]\s*(calibrated on [^;,(]*|no calibration)"  # the default's, which the variant's replaces


def _tokens(counts: dict) -> str:
    """' (16,384 tokens)', or with the chain of thought: ' (16,384 tokens: 8,157 prompt + 8,227 chain of thought)'."""
    if not counts.get("tokens"):
        return ""
    if counts.get("generated_tokens"):
        return (
            f" ({counts['tokens']:,} tokens: {counts.get('prompt_tokens') or 0:,} prompt + "
            f"{counts['generated_tokens']:,} chain of thought)"
        )
    return f" ({counts['tokens']:,} tokens)"


def _grid(quantization: dict | None) -> str:
    """A quantizer's grid in words: '3 bits, one scale per row', '4 bits, groups of 128, asymmetric'."""
    if not quantization or not quantization.get("bits"):
        return ""
    group = quantization.get("group_size")
    parts = [f"{quantization['bits']} bits", f"groups of {group}" if group else "one scale per row"]
    if quantization.get("symmetric") is False:
        parts.append("asymmetric")
    if quantization.get("act_order"):
        parts.append("activation order")
    return ", ".join(parts)


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
        calibration = (cell.pruning or {}).get("calibration") or {}
        found[label] = MethodInfo(
            label,
            name,
            recorded.get("description"),
            _web_link(recorded.get("paper")),
            recorded.get("distribution"),
            recorded.get("version"),
            calibration.get("source"),
            (cell.settings or {}).get("quantization"),
            {key: calibration.get(key) for key in ("tokens", "prompt_tokens", "generated_tokens")},
        )
    return found

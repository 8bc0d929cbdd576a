"""Method specs, `METHOD[@SOURCE]`: a method with the calibration source it reads, e.g. `sparsegpt@text`,
`wanda@traces` or `sparsegpt@traces:/data/r1-traces.jsonl`. Without `@`, the method's own default source
(`sparsegpt`: prompts; `rac`: traces). The spec as written is the method's label in results."""

from __future__ import annotations

from dataclasses import dataclass

from rac_bench.calibration.sources import CalibrationSource, parse_source
from rac_bench.errors import ConfigError
from rac_bench.methods import Method, get_method


@dataclass(frozen=True)
class MethodSpec:
    label: str  # as written
    name: str
    source: CalibrationSource | None  # None: the method takes no calibration data

    @property
    def method(self) -> Method:
        return get_method(self.name)

    @property
    def canonical(self) -> str:
        """The same string for the same computation: `sparsegpt` and `sparsegpt@prompts` agree."""
        return f"{self.name}@{self.source.name}" if self.source else self.name


def parse_method_spec(text: str) -> MethodSpec:
    name, at, source = text.partition("@")
    method = get_method(name)
    if not at:
        default = method.calibration_source
        return MethodSpec(text, name, parse_source(default) if default else None)
    if method.calibration_source is None:
        raise ConfigError(f"{name} takes no calibration data, so {text!r} is not accepted; write plain {name}")
    return MethodSpec(text, name, parse_source(source))

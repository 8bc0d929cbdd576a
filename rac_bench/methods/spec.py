"""Method specs, `METHOD[@SOURCE]`: a method with the calibration source it reads, e.g. `sparsegpt@text`,
`wanda@traces` or `sparsegpt@traces:/data/r1-traces.jsonl`. Without `@`, the method's own default source
(`sparsegpt`: prompts; `rac`: traces). The spec as written is the method's label in results.

`[LABEL=]checkpoint:DIR` names a model saved by another tool (rac_bench.methods.checkpoint); its label is LABEL, or
`checkpoint:<directory name>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rac_bench.calibration.sources import CalibrationSource, parse_source
from rac_bench.errors import ConfigError
from rac_bench.methods import Method, get_method


@dataclass(frozen=True)
class MethodSpec:
    label: str  # as written
    name: str
    source: CalibrationSource | None  # None: the method takes no calibration data
    checkpoint: Path | None = None  # an outside checkpoint's directory

    @property
    def method(self) -> Method:
        return get_method(self.name)

    @property
    def canonical(self) -> str:
        """The same string for the same computation: `sparsegpt` and `sparsegpt@prompts` agree."""
        return f"{self.name}@{self.source.name}" if self.source else self.name


CHECKPOINT_SPEC = re.compile(r"(?:(?P<label>[\w.+:-]+)=)?checkpoint:(?P<directory>.+)")


def parse_method_spec(text: str) -> MethodSpec:
    outside = CHECKPOINT_SPEC.fullmatch(text)
    if outside:
        directory = Path(outside["directory"]).expanduser()
        if not (directory / "config.json").is_file():
            raise ConfigError(
                f"{text!r}: {directory} is not a model directory (no config.json); give [LABEL=]checkpoint:DIR with "
                "DIR a model saved in the Hugging Face layout"
            )
        return MethodSpec(outside["label"] or f"checkpoint:{directory.name}", "checkpoint", None, directory.resolve())
    if text == "checkpoint" or text.startswith("checkpoint@"):
        raise ConfigError(
            f"{text!r} names no directory; write [LABEL=]checkpoint:DIR, e.g. gptq-w4=checkpoint:/models/q"
        )
    name, at, source = text.partition("@")
    method = get_method(name)
    if not at:
        default = method.calibration_source
        return MethodSpec(text, name, parse_source(default) if default else None)
    if method.calibration_source is None:
        raise ConfigError(f"{name} takes no calibration data, so {text!r} is not accepted; write plain {name}")
    return MethodSpec(text, name, parse_source(source))

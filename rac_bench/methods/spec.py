"""Method specs, `METHOD[:QUANTIZATION][@SOURCE]`: a method with the calibration source it reads, e.g. `sparsegpt@text`,
`wanda@traces` or `sparsegpt@traces:/data/r1-traces.jsonl`. Without `@`, the method's own default source
(`sparsegpt`: prompts; `rac`: traces). The spec as written is the method's label in results.

`:QUANTIZATION` sets a quantizer's grid (`gptq:w4g128@traces`, `rtn:w3`, and SparseGPT's joint prune-then-quantize
`sparsegpt:w4`; rac_bench.pruning.quantization). An alias is parsed as the method and source it stands for: `rac` and
`sparsegpt@traces` are one spec under two labels, with one canonical form. `[LABEL=]checkpoint:DIR` names a model
saved by another tool (rac_bench.methods.checkpoint); its label is LABEL, or `checkpoint:<directory name>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rac_bench.calibration.sources import CalibrationSource, parse_source
from rac_bench.errors import ConfigError
from rac_bench.methods import Method, MethodAlias, available_methods, get_method
from rac_bench.methods.base import method_kind
from rac_bench.pruning.target import SYNTAX, QuantizationTarget, parse_quantization


@dataclass(frozen=True)
class MethodSpec:
    label: str  # as written
    name: str  # the registered method that makes the weights (for an alias, the method it stands for)
    source: CalibrationSource | None  # None: the method takes no calibration data
    checkpoint: Path | None = None  # an outside checkpoint's directory
    quantization: QuantizationTarget | None = None  # `method:w4g128`: the grid the weights are rounded to

    @property
    def method(self) -> Method:
        return get_method(self.name)

    @property
    def kind(self) -> str:
        """rac_bench.methods.base: DENSE, COMPRESSED or OUTSIDE, as the method declares it."""
        return method_kind(self.method)

    @property
    def canonical(self) -> str:
        """The same string for the same computation: `sparsegpt` and `sparsegpt@prompts` agree."""
        name = f"{self.name}:{self.quantization.label}" if self.quantization else self.name
        return f"{name}@{self.source.name}" if self.source else name


CHECKPOINT_SPEC = re.compile(r"(?:(?P<label>[\w.+:-]+)=)?checkpoint:(?P<directory>.+)")
MAX_LABEL_LENGTH = 200  # a label names files (the site's pages) and table rows


def parse_method_spec(text: str) -> MethodSpec:
    if len(text) > MAX_LABEL_LENGTH:
        raise ConfigError(
            f"method spec {text[:40]!r}... is {len(text):,} characters; a spec (and the label it gives) is at most "
            f"{MAX_LABEL_LENGTH}: name a long calibration path through a shorter one (a symlink) or a LABEL="
        )
    outside = CHECKPOINT_SPEC.fullmatch(text)
    if outside:
        _check_outside_label(outside["label"], text)
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
    head, at, source = text.partition("@")
    written, colon, options = head.partition(":")
    registered = get_method(written)
    name = registered.method if isinstance(registered, MethodAlias) else written  # an alias: a method on a source
    method, default = get_method(name), registered.calibration_source
    quantization = _quantization(method, written, options) if colon else None
    if getattr(method, "quantizes", False) and not getattr(method, "prunes", True) and quantization is None:
        raise ConfigError(f"{name} needs its bits: write {name}:w4, {name}:w4g128 or {name}:w3asym ({SYNTAX})")
    if not at:
        return MethodSpec(text, name, parse_source(default) if default else None, quantization=quantization)
    if method.calibration_source is None:
        raise ConfigError(f"{name} takes no calibration data, so {text!r} is not accepted; write plain {head}")
    return MethodSpec(text, name, parse_source(source), quantization=quantization)


def _check_outside_label(label: str | None, text: str) -> None:
    """A checkpoint's LABEL is its row: it may not pose as a method (`dense=checkpoint:D` would be a second dense)."""
    from rac_bench.methods import available_methods

    head = re.split(r"[:@]", label or "", maxsplit=1)[0]
    if head in available_methods():
        raise ConfigError(
            f"{text!r}: the label {label!r} names the method {head!r}; give an outside checkpoint a label of its own "
            "(e.g. gptq-w4=checkpoint:DIR)"
        )


def _quantization(method, name: str, options: str) -> QuantizationTarget:
    if not getattr(method, "quantizes", False):
        raise ConfigError(
            f"{name} takes no quantization options ({name}:{options}); methods that do: {_methods_that('quantizes')}"
        )
    quantization = parse_quantization(options, name)
    if quantization.act_order and not getattr(method, "orders_by_activation", False):
        raise ConfigError(
            f"{name}:{options}: {name} takes no activation order (act); drop it, or use a method that does: "
            f"{_methods_that('orders_by_activation')}"
        )
    return quantization


def _methods_that(field: str) -> str:
    """The names (aliases too) whose method has `field` set, e.g. those that take quantization options."""
    methods = available_methods()
    target = {name: methods.get(getattr(m, "method", name), m) for name, m in methods.items()}
    return ", ".join(sorted(name for name, method in target.items() if getattr(method, field, False)))

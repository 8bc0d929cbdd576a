"""Which weights a model's decoder layers hold, in what layout, and which stay dense by rule: the one place that
decides what the engine prunes, so solvers only ever see `[out, in]` matrices.

Prunable:
- the weight of every `nn.Linear` (fused projections such as Phi-3's `qkv_proj` included): one matrix;
- every 3-D expert tensor of an experts module (transformers' `@use_experts_implementation` modules, which declare
  `is_transposed`): one matrix per expert, stored `[experts, out, in]`, or `[experts, in, out]` where the module
  declares `is_transposed` (GPT-OSS).

Dense by rule, and listed in the pruning report: routers and gates that choose experts (a module whose class name
ends in "Router", an `nn.Linear` named `gate` or `router`, or one with a single output such as Qwen3-Next's
`shared_expert_gate`), norms, biases, other vectors (attention sinks, decay rates), convolutions, embeddings, and
whatever `--ignore` matches. A parameter of any other layout is unknown; unknown parameters holding more than
UNKNOWN_SHARE of the decoder layers' weights make the model an error, never a silent dense pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from rac_bench.errors import ConfigError

UNKNOWN_SHARE = 0.01


class LayoutError(ConfigError):
    """The model holds weights in a layout the engine cannot prune."""


@dataclass(frozen=True)
class PrunableWeight:
    """One prunable parameter of a decoder layer: a matrix, or a stack of expert matrices."""

    name: str  # the parameter's name within the layer, e.g. self_attn.q_proj.weight or mlp.experts.down_proj
    module: str  # the name of the module holding it, within the layer
    experts: int = 0  # 0: one matrix; E: a stack of E expert matrices along dimension 0
    transposed: bool = False  # expert matrices stored [in, out]

    @property
    def label(self) -> str:
        """The name in reports: the module for a linear layer (`mlp.down_proj`), the parameter for experts."""
        return self.name if self.experts else self.module

    def matrices(self, parameter: torch.Tensor) -> list[torch.Tensor]:
        """Views of the parameter as [out, in] matrices, one per expert (writing to a view writes the weight)."""
        if not self.experts:
            return [parameter]
        return [parameter[e].T if self.transposed else parameter[e] for e in range(self.experts)]

    def in_features(self, parameter: torch.Tensor) -> int:
        return parameter.shape[-2] if self.transposed else parameter.shape[-1]


@dataclass(frozen=True)
class LayerLayout:
    prunable: tuple[PrunableWeight, ...]
    dense: dict  # parameter name within the layer -> the rule that keeps it dense
    unknown: tuple[str, ...]


def find_decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The largest `nn.ModuleList` whose every block holds an `nn.Linear`."""
    candidates = [
        module
        for module in model.modules()
        if isinstance(module, nn.ModuleList)
        and len(module) > 0
        and all(any(isinstance(m, nn.Linear) for m in block.modules()) for block in module)
    ]
    if not candidates:
        raise ConfigError(
            f"{type(model).__name__} has no recognisable decoder layers (a ModuleList of blocks with nn.Linear)"
        )
    return max(candidates, key=lambda layers: sum(p.numel() for p in layers.parameters()))


def layer_layout(layer: nn.Module, ignore: str | None = None) -> LayerLayout:
    pattern = re.compile(ignore) if ignore else None
    prunable, dense, unknown = [], {}, []
    for module_name, module in layer.named_modules():
        for short, parameter in module.named_parameters(recurse=False):
            name = f"{module_name}.{short}" if module_name else short
            rule = _dense_rule(module_name, module, short, parameter)
            if rule is not None:
                dense[name] = rule
                continue
            weight = _prunable(module_name, module, short, parameter)
            if weight is None:
                unknown.append(name)
            elif pattern and pattern.search(weight.label):
                dense[name] = "ignored (--ignore)"
            else:
                prunable.append(weight)
    return LayerLayout(tuple(prunable), dense, tuple(unknown))


def _dense_rule(module_name: str, module: nn.Module, short: str, parameter: torch.Tensor) -> str | None:
    last = module_name.rpartition(".")[2]
    if short == "bias" or short.endswith("_bias"):
        return "bias"
    if type(module).__name__.lower().endswith("router") or (
        isinstance(module, nn.Linear) and last in ("gate", "router")
    ):
        return "router"
    if isinstance(module, nn.Linear) and module.out_features == 1:
        return "router"  # a scalar gate (Qwen3-Next's shared_expert_gate)
    if "norm" in type(module).__name__.lower():
        return "norm"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "convolution"
    if parameter.dim() == 1:
        return "vector"
    return None


def _prunable(module_name: str, module: nn.Module, short: str, parameter: torch.Tensor) -> PrunableWeight | None:
    name = f"{module_name}.{short}" if module_name else short
    if isinstance(module, nn.Linear) and short == "weight":
        return PrunableWeight(name, module_name)
    if parameter.dim() == 3 and isinstance(getattr(module, "is_transposed", None), bool):
        return PrunableWeight(name, module_name, parameter.shape[0], module.is_transposed)
    return None


def model_layouts(model: nn.Module, ignore: str | None = None) -> list[LayerLayout]:
    """Each decoder layer's layout; raises LayoutError when unknown layouts hold more than UNKNOWN_SHARE of the
    decoder layers' weights."""
    layers = find_decoder_layers(model)
    layouts = [layer_layout(layer, ignore) for layer in layers]
    total = sum(p.numel() for p in layers.parameters())
    unknown = {
        f"layers.{index}.{name}": layer.get_parameter(name).numel()
        for index, (layer, layout) in enumerate(zip(layers, layouts))
        for name in layout.unknown
    }
    if total and sum(unknown.values()) > UNKNOWN_SHARE * total:
        names = sorted(unknown, key=unknown.get, reverse=True)
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        raise LayoutError(
            f"{type(model).__name__} holds {sum(unknown.values()) / total:.1%} of its decoder-layer weights in layouts "
            f"rac-bench cannot prune ({shown}); supported: nn.Linear weights and transformers' 3-D expert tensors"
        )
    return layouts


def dense_by_rule(layouts: list[LayerLayout]) -> dict[str, list[str]]:
    """The rules that kept weights dense, each with the parameter names it applied to (without the layer index)."""
    rules: dict[str, list[str]] = {}
    for layout in layouts:
        for name, rule in layout.dense.items():
            if name not in rules.setdefault(rule, []):
                rules[rule].append(name)
    for layout in layouts:
        for name in layout.unknown:
            if name not in rules.setdefault("unknown layout (under 1% of the decoder)", []):
                rules["unknown layout (under 1% of the decoder)"].append(name)
    return rules


def prunable_input_widths(model: nn.Module, ignore: str | None = None) -> dict[str, int]:
    """The input width of every prunable matrix, by name (`layers.0.mlp.experts.down_proj` for a stack)."""
    layers = find_decoder_layers(model)
    return {
        f"layers.{index}.{weight.label}": weight.in_features(layer.get_parameter(weight.name))
        for index, (layer, layout) in enumerate(zip(layers, model_layouts(model, ignore)))
        for weight in layout.prunable
    }

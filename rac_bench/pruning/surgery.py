"""Making a decoder smaller in place: the projections a structured method cuts, found by their standard names; rows
and columns of an `nn.Linear` removed; whole decoder layers removed with their cache indices renumbered; and the
config updated to the new shape, so `save_pretrained` writes a standard checkpoint that transformers and vLLM load.
"""

from __future__ import annotations

import torch
from torch import nn

from rac_bench.pruning.layout import find_decoder_layers
from rac_bench.pruning.shape import Shape, StructureError, apply_shape

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")


def projections(layer: nn.Module) -> dict[str, nn.Linear]:
    """The seven projections of a dense decoder layer, by their short names (q_proj ... down_proj)."""
    found = {
        name.rpartition(".")[2]: module
        for name, module in layer.named_modules()
        if isinstance(module, nn.Linear) and name.rpartition(".")[2] in ATTENTION + MLP
    }
    missing = [name for name in ATTENTION + MLP if name not in found]
    if missing:
        raise StructureError(
            f"{type(layer).__name__} has no {', '.join(missing)}: width pruning needs separate q/k/v/o and "
            "gate/up/down projections"
        )
    return found


def keep_outputs(linear: nn.Linear, keep: torch.Tensor) -> None:
    """Only the output rows `keep` (indices) of `linear` stay, with their bias."""
    linear.weight = nn.Parameter(linear.weight.data[keep].clone(), requires_grad=False)
    if linear.bias is not None:
        linear.bias = nn.Parameter(linear.bias.data[keep].clone(), requires_grad=False)
    linear.out_features = len(keep)


def set_inputs(linear: nn.Linear, weight: torch.Tensor) -> None:
    """`linear` reads fewer inputs: `weight` is its new [out, kept inputs] matrix."""
    linear.weight = nn.Parameter(weight.to(linear.weight.dtype).contiguous(), requires_grad=False)
    linear.in_features = weight.shape[1]


def remove_layers(model: nn.Module, drop: list[int]) -> None:
    """Remove decoder layers `drop`; the rest keep their order, and their cache index (`layer_idx`) follows it."""
    layers = find_decoder_layers(model)
    kept = [layer for index, layer in enumerate(layers) if index not in set(drop)]
    for position, layer in enumerate(kept):
        for module in layer.modules():
            if isinstance(getattr(module, "layer_idx", None), int):
                module.layer_idx = position
    parent, attribute = next(
        (module, name) for module in model.modules() for name, child in module.named_children() if child is layers
    )
    setattr(parent, attribute, nn.ModuleList(kept))
    config = model.config
    for field in ("layer_types",):
        values = getattr(config, field, None)
        if isinstance(values, list) and len(values) == len(kept) + len(drop):
            setattr(config, field, [value for index, value in enumerate(values) if index not in set(drop)])
    config.num_hidden_layers = len(kept)


def set_config_shape(model: nn.Module, shape: Shape) -> None:
    """The config says what the weights now are."""
    apply_shape(model.config, shape)

"""The sparsity a model's weights actually have, counted from its parameters (read back from the saved checkpoint,
rac_bench.variants), never from what a method meant to do: over the prunable weights (rac_bench.pruning.layout,
plus the output head when it is pruned) and over every parameter of the decoder layers; for an N:M target, how
many groups of M consecutive input weights hold fewer than N zeros; for a quantization target, how many groups
hold more distinct values than its bits allow."""

from __future__ import annotations

import torch
from torch import nn

from rac_bench.pruning.layout import find_decoder_layers, model_layouts
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.quantization import distinct_values_violations


def achieved_sparsity(model: nn.Module, target: SparsityTarget, ignore: str | None, lm_head: bool) -> dict:
    layers = find_decoder_layers(model)
    matrices = [
        matrix
        for layer, layout in zip(layers, model_layouts(model, ignore))
        for weight in layout.prunable
        for matrix in weight.matrices(layer.get_parameter(weight.name))
    ]
    if lm_head and isinstance(model.get_output_embeddings(), nn.Linear):
        matrices.append(model.get_output_embeddings().weight)
    prunable_zeros = sum(_zeros(matrix) for matrix in matrices)
    prunable = sum(matrix.numel() for matrix in matrices)
    decoder_zeros = sum(_zeros(parameter) for parameter in layers.parameters())
    decoder = sum(parameter.numel() for parameter in layers.parameters())
    record = {
        "prunable": prunable_zeros / prunable if prunable else 0.0,
        "decoder": decoder_zeros / decoder if decoder else 0.0,
        "prunable_weights": prunable,
        "decoder_weights": decoder,
    }
    if target.is_n_m:
        record["n_m_violations"] = sum(_n_m_violations(matrix, target) for matrix in matrices)
    if target.quantization is not None:
        record["quantization"] = {
            "bits": target.quantization.bits,
            "group_size": target.quantization.group_size,
            # groups of a row with more than 2^bits distinct values: weights off any grid of that many levels
            "violations": sum(distinct_values_violations(matrix, target.quantization) for matrix in matrices),
        }
    return record


def _zeros(tensor: torch.Tensor) -> int:
    return int((tensor.detach() == 0).sum())


def _n_m_violations(matrix: torch.Tensor, target: SparsityTarget) -> int:
    """Groups of M consecutive input weights of a row with fewer than N zeros (every group, when M does not
    divide the input width)."""
    rows, columns = matrix.shape
    if columns % target.m:
        return rows * -(-columns // target.m)
    zeros = (matrix.detach() == 0).reshape(rows, columns // target.m, target.m).sum(dim=-1)
    return int((zeros < target.n).sum())


def achieved_removal(model: nn.Module, dense: nn.Module, ignore: str | None) -> dict:
    """What a structured method removed, counted in the weights: the prunable weights (and decoder-layer weights)
    the model holds against the dense model's. `prunable` is the fraction removed, the figure its label claims."""
    kept, total = _prunable_count(model, ignore), _prunable_count(dense, ignore)
    kept_decoder = sum(p.numel() for p in find_decoder_layers(model).parameters())
    decoder = sum(p.numel() for p in find_decoder_layers(dense).parameters())
    return {
        "prunable": 1 - kept / total if total else 0.0,
        "decoder": 1 - kept_decoder / decoder if decoder else 0.0,
        "prunable_weights": total,
        "decoder_weights": decoder,
        "removed_weights": total - kept,
        "parameters": sum(p.numel() for p in model.parameters()),
        "structured": True,
    }


def _prunable_count(model: nn.Module, ignore: str | None) -> int:
    layers = find_decoder_layers(model)
    return sum(
        layer.get_parameter(weight.name).numel()
        for layer, layout in zip(layers, model_layouts(model, ignore))
        for weight in layout.prunable
    )

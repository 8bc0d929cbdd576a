"""Weight-only integer quantization: the grid a target (rac_bench.pruning.target) rounds to; round-to-nearest (RTN)
as a solver.

A target is `bits` (2 to 8), an optional `group_size` (inputs that share one scale and zero point; None: one per
output row), symmetric or asymmetric, and for GPTQ whether columns go in activation order. The grid is the one
compressed-tensors computes (`calculate_qparams`) and vLLM's kernels decode, so a fake-quant checkpoint packs
losslessly (rac_bench.packing): per group, the range [min(w, 0), max(w, 0)] split into 2^bits − 1 steps; symmetric
grids take ±max|w| (scale max|w| / (2^(bits−1) − 0.5)) with the zero point in the middle (2^(bits−1)), asymmetric
ones a rounded zero point. It equals IST-DASLab's `quant.py` except for a symmetric group whose weights are all
>= 0: `quant.py` then keeps the range [0, max w] around a middle zero point, so no level reaches max w (at 4 bits its
top level is 7/15 max w, compressed-tensors' 14/15). Weights are stored dequantized in the model's dtype
(fake-quant), so every backend runs them and the checkpoint can be read back: each group of a row holds at most
2^bits distinct values.

Spec options (`rtn:w4g128`, `gptq:w3asym`, `gptq:w4g128act`, `sparsegpt:w4`): `w<bits>`, then optionally
`g<group size>`, `asym`, `act` (activation order, GPTQ only).
"""

from __future__ import annotations

import torch

from rac_bench.errors import ConfigError
from rac_bench.pruning.target import BITS, OPTIONS, SYNTAX, QuantizationTarget, parse_quantization  # noqa: F401


def grid(weights: torch.Tensor, target: QuantizationTarget) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(scale, zero point, largest level) per row of `weights` ([rows, inputs of one group])."""
    largest = target.levels - 1
    zeros = torch.zeros(weights.shape[0], dtype=weights.dtype, device=weights.device)
    low, high = torch.minimum(weights.min(dim=1).values, zeros), torch.maximum(weights.max(dim=1).values, zeros)
    if target.symmetric:  # ±max|w| even when no weight is negative, as compressed-tensors (not quant.py)
        high = torch.maximum(low.abs(), high)
        low = -high
    empty = (low == 0) & (high == 0)
    low, high = torch.where(empty, -1.0, low), torch.where(empty, 1.0, high)
    scale = (high - low) / largest
    zero = torch.full_like(scale, (largest + 1) / 2) if target.symmetric else torch.round(-low / scale)
    return scale.reshape(-1, 1), zero.reshape(-1, 1), largest


def rounded(weights: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, largest: int) -> torch.Tensor:
    """The grid value nearest to each weight (rows share their scale and zero point)."""
    return scale * (torch.clamp(torch.round(weights / scale) + zero, 0, largest) - zero)


def check_quantization_target(target, in_features: dict[str, int]) -> None:
    """A group size must divide every quantized matrix's input width (a group never straddles two rows)."""
    quantization = getattr(target, "quantization", None)
    if quantization is None or quantization.group_size is None:
        return
    misfit = next((name for name, width in in_features.items() if width % quantization.group_size), None)
    if misfit is not None:
        raise ConfigError(
            f"group size {quantization.group_size} does not divide the {in_features[misfit]} inputs of {misfit}; "
            "give a group size that divides every layer's input width, or none (one scale per row)"
        )


def rtn_quantize(weight: torch.Tensor, statistics, target) -> torch.Tensor:
    """Round to nearest: each group of each row onto its own grid; no calibration, no weight update."""
    quantization = target.quantization
    matrix = weight.detach().to(torch.float32)
    rows, columns = matrix.shape
    group = quantization.group_of(columns)
    groups = matrix.reshape(rows, columns // group, group).reshape(-1, group)
    scale, zero, largest = grid(groups, quantization)
    return rounded(groups, scale, zero, largest).reshape(rows, columns).to(weight.dtype)


def distinct_values_violations(matrix: torch.Tensor, quantization: QuantizationTarget) -> int:
    """Groups of a row holding more than 2^bits distinct values (the checkpoint's weights are not on a grid)."""
    rows, columns = matrix.shape
    group = quantization.group_of(columns)
    if columns % group:
        return rows
    ordered = torch.sort(matrix.detach().reshape(rows, columns // group, group), dim=-1).values
    distinct = (ordered[..., 1:] != ordered[..., :-1]).sum(dim=-1) + 1
    return int((distinct > quantization.levels).sum())

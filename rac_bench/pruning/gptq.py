"""GPTQ (Frantar et al., 2023): quantize a linear layer column by column, each column rounded onto its group's grid and
its rounding error spread over the not-yet-quantized columns through the upper Cholesky factor of H^-1: the same
blocked OBS update as SparseGPT (rac_bench.pruning.sparsegpt; the shared inverse-Hessian factor is in
rac_bench.pruning.obs), with the quantizer in place of the mask. With a sparsity target too, it is SparseGPT's
joint prune-then-quantize: each block's mask is chosen on the OBS saliency w^2 / [H^-1]_jj^2 as SparseGPT chooses
it, pruned weights go to 0 and kept ones onto the grid, and both errors are spread alike.

As IST-DASLab's `fasterquant`: a group's scale and zero point are taken from the current, already updated weights
when the sweep reaches the group's first column. With activation order (`act`), columns are swept by descending
diag(H); their groups' grids are then fixed before the sweep on the original, contiguous groups (`static_groups`),
so a checkpoint's groups stay contiguous runs of inputs that every kernel and reader understands.
"""

from __future__ import annotations

import torch

from rac_bench.pruning.obs import BLOCK_SIZE, DAMPENING, check_sparsegpt_target, prepared_inverse
from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask
from rac_bench.pruning.quantization import grid, rounded
from rac_bench.pruning.statistics import InputStatistics


def gptq_quantize(
    weight: torch.Tensor,
    statistics: InputStatistics,
    target: SparsityTarget,
    block_size: int = BLOCK_SIZE,
    dampening: float = DAMPENING,
) -> torch.Tensor:
    """Return the quantized (and, with a sparsity, pruned) weight in its dtype; `weight` is left untouched."""
    quantization = target.quantization
    check_sparsegpt_target(target, block_size)
    hessian = statistics.hessian
    W = weight.detach().to(torch.float32).clone()
    rows, columns = W.shape
    group = quantization.group_of(columns)
    per_row = grid(W, quantization) if quantization.group_size is None else None  # as fasterquant: before dead
    dead = torch.diagonal(hessian) == 0
    W[:, dead] = 0.0
    order = torch.arange(columns, device=W.device)
    static = None
    if quantization.act_order:
        order = torch.argsort(torch.diagonal(hessian), descending=True, stable=True)
        static = [grid(W[:, start : start + group], quantization) for start in range(0, columns, group)]
        W, hessian = W[:, order], hessian[order][:, order]
        Hinv, _ = prepared_inverse(hessian, dampening)  # of the permuted H: not shared with other modules
    else:
        Hinv, _ = statistics.derived(("sparsegpt", dampening), lambda H: prepared_inverse(H, dampening))
    total_pruned = int(W.numel() * target.sparsity)
    Q = torch.zeros_like(W)
    current = per_row
    for i1 in range(0, columns, block_size):
        i2 = min(i1 + block_size, columns)
        W1, Hinv1 = W[:, i1:i2].clone(), Hinv[i1:i2, i1:i2]
        mask1 = _block_mask(W1, Hinv1, target, total_pruned * i2 // columns - total_pruned * i1 // columns)
        Err1 = torch.zeros_like(W1)
        for i in range(i2 - i1):
            column = i1 + i
            if static is not None:
                current = static[int(order[column]) // group]
            elif per_row is None and column % group == 0:
                # as fasterquant: from W, whose columns in this block have not yet had this block's updates
                current = grid(W[:, column : column + group], quantization)
            if target.is_n_m and i % target.m == 0:
                saliency = W1[:, i : i + target.m] ** 2 / torch.diagonal(Hinv1)[i : i + target.m] ** 2
                lowest = torch.topk(saliency, target.n, dim=1, largest=False).indices
                mask1[:, i : i + target.m].scatter_(1, lowest, True)
            w, d = W1[:, i], Hinv1[i, i]
            q = rounded(w.reshape(-1, 1), *current).flatten().masked_fill(mask1[:, i], 0.0)
            Q[:, column] = q
            Err1[:, i] = (w - q) / d
            W1[:, i:] -= Err1[:, i : i + 1] @ Hinv1[i : i + 1, i:]
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    if quantization.act_order:
        Q = Q[:, torch.argsort(order)]
    return Q.to(weight.dtype)


def _block_mask(W1: torch.Tensor, Hinv1: torch.Tensor, target: SparsityTarget, count: int) -> torch.Tensor:
    """SparseGPT's unstructured mask of one block (none without a sparsity; N:M is decided during the sweep)."""
    if target.is_n_m or not target.sparsity:
        return torch.zeros_like(W1, dtype=torch.bool)
    return lowest_score_mask(W1**2 / torch.diagonal(Hinv1).reshape(1, -1) ** 2, target, count=count)

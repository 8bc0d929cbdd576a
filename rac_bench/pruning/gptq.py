"""GPTQ (Frantar et al., 2023): quantize a linear layer column by column, each column rounded onto its group's grid and
its rounding error spread over the not-yet-quantized columns through the upper Cholesky factor of H^-1: the blocked
OBS sweep SparseGPT runs (rac_bench.pruning.sweep), with a quantizer in place of the mask. With a sparsity target
too, it is SparseGPT's joint prune-then-quantize: the sweep's mask rule is SparseGPT's, pruned weights go to 0 and
kept ones onto the grid, and both errors are spread alike.

As IST-DASLab's `fasterquant`: a group's scale and zero point are taken from the current, already updated weights
when the sweep reaches the group's block. With activation order (`act`), columns are swept by descending diag(H);
their groups' grids are then fixed before the sweep on the original, contiguous groups (`static_groups`), so a
checkpoint's groups stay contiguous runs of inputs that every kernel and reader understands. The updates are
grouped as the sweep groups them (sub-blocks, fused rank-1 updates), not as fasterquant does, so a grid taken from
updated weights can differ from fasterquant's in its last bits and a rounding tie can fall the other way; the tests
hold it to fasterquant as published.
"""

from __future__ import annotations

import torch

from rac_bench.pruning.obs import BLOCK_SIZE, DAMPENING, check_sparsegpt_target, prepared_inverse
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.quantization import QuantizationTarget, grid
from rac_bench.pruning.statistics import InputStatistics
from rac_bench.pruning.sweep import MaskRule, obs_sweep


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
    Wt = weight.detach().to(torch.float32).T.contiguous()  # Wt[j] is column j of W
    per_row = _grid_of(Wt, quantization) if quantization.group_size is None else None  # as fasterquant: before dead
    dead = torch.diagonal(hessian) == 0
    Wt[dead] = 0.0
    grids = FasterquantGrids(quantization, per_row)
    if quantization.act_order:
        order = torch.argsort(torch.diagonal(hessian), descending=True, stable=True)
        grids.fix_groups(Wt, order)
        Wt, hessian = Wt[order], hessian[order][:, order]
        Hinv, _ = prepared_inverse(hessian, dampening)  # of the permuted H: not shared with other modules
    else:
        Hinv, _ = statistics.derived(("sparsegpt", dampening), lambda H: prepared_inverse(H, dampening))
    obs_sweep(Wt, Hinv, MaskRule.of(target), grids, block_size)
    if quantization.act_order:
        Wt = Wt[torch.argsort(order)]
    return Wt.T.to(weight.dtype).contiguous()


def _grid_of(columns: torch.Tensor, quantization: QuantizationTarget) -> tuple[torch.Tensor, torch.Tensor]:
    """The (scale, zero point) of each row of W over some of its columns (given as rows of W^T), each [1, rows]."""
    scale, zero, _ = grid(columns.T, quantization)
    return scale.reshape(1, -1), zero.reshape(1, -1)


class FasterquantGrids:
    """The sweep's quantizer, with fasterquant's grids: one per row (`per_row`, taken before dead inputs are zeroed);
    with activation order, one per group of the unpermuted columns, fixed before the sweep (`fix_groups`); else one
    per group, taken from the updated weights when the sweep reaches the group."""

    def __init__(self, quantization: QuantizationTarget, per_row: tuple[torch.Tensor, torch.Tensor] | None):
        self.quantization, self.largest = quantization, quantization.levels - 1
        self.current = per_row
        self.fixed, self.order = None, None

    def fix_groups(self, Wt: torch.Tensor, order: torch.Tensor) -> None:
        """Fix every group's grid on the unpermuted W^T; the sweep then reaches columns in `order`."""
        group = self.quantization.group_of(len(Wt))
        grids = [_grid_of(Wt[start : start + group], self.quantization) for start in range(0, len(Wt), group)]
        self.fixed = (torch.cat([scale for scale, _ in grids]), torch.cat([zero for _, zero in grids]))
        self.order = order // group  # the fixed group of each swept column

    def block_grid(self, Wt: torch.Tensor, i1: int, i2: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fixed is not None:
            return self.fixed[0][self.order[i1:i2]], self.fixed[1][self.order[i1:i2]]
        group = self.quantization.group_size
        if group is None:
            return tuple(grid.expand(i2 - i1, -1) for grid in self.current)
        pieces, start = [], i1
        for boundary in [*range(-(-i1 // group) * group, i2, group), i2]:
            if boundary > start:  # columns start..boundary keep the current grid
                pieces.append([grid.expand(boundary - start, -1) for grid in self.current])
            if boundary < i2:  # as fasterquant: before this block's updates reach the group
                self.current = _grid_of(Wt[boundary : boundary + group], self.quantization)
            start = boundary
        return torch.cat([scale for scale, _ in pieces]), torch.cat([zero for _, zero in pieces])

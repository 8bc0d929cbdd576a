"""The blocked OBS column sweep that SparseGPT, GPTQ and their joint form share (SparseGPT's Algorithm 1, GPTQ's
`fasterquant`): columns are finished one at a time, each column's error is spread over the not-yet-finished ones
through the upper Cholesky factor of H^-1, and a block's errors reach the later blocks in one matmul. What differs
between the solvers is given to the sweep: a `MaskRule` (which weights go to 0, by the OBS saliency
w^2 / [H^-1]_jj^2) and an optional `BlockQuantizer` (the grid a column's weights are rounded to).

The sweep works on W^T, so that a column of W is a contiguous row, and each column step is a few calls: the
column's final value (pruned weights 0; with a quantizer, the kept ones rounded), its error err_i and a rank-1
update of the block's later columns, which are updated a sub-block at a time by one matmul.

On a GPU those column steps are small kernels, ~40,000 columns per 7B decoder layer, and launching them one by
one from Python would bound the speed. So the sweep of one block (`_sweep_block`, a plain function with no host
synchronisation) is captured once per block shape as a CUDA graph and replayed for every block of that shape; the
CPU runs the very same function eagerly. Whatever depends on the data (the unstructured mask, a block's grids) is
decided before the block's sweep and handed to it as tensors.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import torch

from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask
from rac_bench.pruning.quantization import rounded

log = logging.getLogger(__name__)

SUB_BLOCK_SIZE = 32


@dataclass(frozen=True)
class MaskRule:
    """Which weights the sweep prunes, on the OBS saliency: `sparsity` of the matrix, each block taking its share,
    chosen before the block's sweep; or, for N:M (`m` > 0), the `n` lowest of every `m` consecutive columns of a
    row, chosen when the sweep reaches the group, on the weights as updated so far."""

    sparsity: float = 0.0
    n: int = 0
    m: int = 0

    @classmethod
    def of(cls, target: SparsityTarget) -> MaskRule:
        return cls(target.sparsity, target.n, target.m)

    @property
    def is_n_m(self) -> bool:
        return self.m > 0

    def block_mask(self, W1: torch.Tensor, Hinv1: torch.Tensor, count: int) -> torch.Tensor:
        """The unstructured mask of one block (W1 = its columns as rows); all False for N:M or no sparsity."""
        if self.is_n_m or not count:
            return torch.zeros_like(W1, dtype=torch.bool)
        diagonal = torch.diagonal(Hinv1).reshape(-1, 1)
        return lowest_score_mask(W1**2 / diagonal**2, SparsityTarget(self.sparsity), count=count)

    def choose_group(self, W1: torch.Tensor, diagonal: torch.Tensor, mask1: torch.Tensor, i: int) -> None:
        """Mark the `n` least salient of the group of columns starting at `i` (inside the sweep: no host sync)."""
        group = W1[i : i + self.m] ** 2 / diagonal[i : i + self.m] ** 2
        lowest = torch.topk(group, self.n, dim=0, largest=False).indices
        mask1[i : i + self.m].scatter_(0, lowest, True)


class BlockQuantizer(Protocol):
    """The grid a quantizing sweep rounds to (rac_bench.pruning.quantization's `rounded`): for each column of a
    block, the scale and zero point of every row, taken before the block's sweep."""

    largest: int  # the top level of the grid (2^bits - 1)

    def block_grid(self, Wt: torch.Tensor, i1: int, i2: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, zero point), each [i2 - i1, rows], of the columns i1..i2 of W (the rows of Wt)."""


def obs_sweep(
    Wt: torch.Tensor,
    Hinv: torch.Tensor,
    rule: MaskRule,
    quantizer: BlockQuantizer | None,
    block_size: int,
) -> None:
    """Finish every column of W (Wt = W^T, float32, changed in place) with the OBS update: pruned weights end at
    exactly 0, kept ones at their updated value, or on `quantizer`'s grid when there is one."""
    columns, rows = Wt.shape
    total_pruned = int(Wt.numel() * rule.sparsity)  # each block takes its share, so the matrix is exact
    # Inside a block, rank-1 updates reach only the rest of a sub-block; the later columns get the sub-block's
    # errors in one matmul (the same arithmetic, regrouped). An N:M group never straddles a sub-block.
    sub_block = rule.m * max(1, SUB_BLOCK_SIZE // rule.m) if rule.is_n_m else SUB_BLOCK_SIZE
    shape = _BlockShape(rows, block_size, sub_block, (rule.n, rule.m), quantizer.largest if quantizer else None)
    for i1 in range(0, columns, block_size):
        i2 = min(i1 + block_size, columns)
        # On a CPU a block is many small calls, and more threads only add barrier waits.
        with nullcontext() if Wt.is_cuda else _one_thread():
            count = total_pruned * i2 // columns - total_pruned * i1 // columns
            W1, Hinv1 = Wt[i1:i2], Hinv[i1:i2, i1:i2]
            mask1 = rule.block_mask(W1, Hinv1, count)
            grid1 = quantizer.block_grid(Wt, i1, i2) if quantizer is not None else None
            full_on_gpu = Wt.is_cuda and i2 - i1 == block_size
            captured = _captured_sweep(shape, Wt.device) if full_on_gpu else None
            if captured is not None:
                Err1 = captured(W1, Hinv1, mask1, grid1)
            else:
                Err1 = _sweep_block(W1, Hinv1, mask1, grid1, shape)
        Wt[i2:].addmm_(Hinv[i1:i2, i2:].T, Err1, alpha=-1.0)


@dataclass(frozen=True)
class _BlockShape:
    """What a block's sweep depends on besides its data: one CUDA graph per distinct value."""

    rows: int
    block_size: int
    sub_block: int
    n_m: tuple[int, int]  # (0, 0): the mask comes decided
    largest: int | None  # the grid's top level; None: no quantizer

    @property
    def rule(self) -> MaskRule:
        return MaskRule(0.0, *self.n_m)


def _sweep_block(W1: torch.Tensor, Hinv1: torch.Tensor, mask1: torch.Tensor, grid1, shape: _BlockShape):
    """Finish one block of columns (rows of W1 = W^T, in place) with `mask1` (filled in here for N:M) and the
    block's grid `grid1` (or None), and return its errors err_i. No host synchronisation and no data-dependent
    control flow, so a CUDA graph can capture it."""
    rule, diagonal = shape.rule, torch.diagonal(Hinv1).reshape(-1, 1)
    Err1 = torch.zeros_like(W1)
    for j1 in range(0, len(W1), shape.sub_block):
        j2 = min(j1 + shape.sub_block, len(W1))
        for i in range(j1, j2):
            if rule.is_n_m and i % rule.m == 0:
                rule.choose_group(W1, diagonal, mask1, i)
            if grid1 is None:  # the error of a pruned weight, w / [H^-1]_ii; a kept one's is 0
                torch.mul(W1[i], mask1[i] / Hinv1[i, i], out=Err1[i])
            else:
                final = rounded(W1[i], grid1[0][i], grid1[1][i], shape.largest).masked_fill_(mask1[i], 0.0)
                torch.div(W1[i] - final, Hinv1[i, i], out=Err1[i])
                W1[i].copy_(final)
            W1[i + 1 : j2].addr_(Hinv1[i, i + 1 : j2], Err1[i], alpha=-1.0)
        W1[j2:].addmm_(Hinv1[j1:j2, j2:].T, Err1[j1:j2], alpha=-1.0)
    W1.masked_fill_(mask1, 0.0)
    return Err1


class _CapturedSweep:
    """`_sweep_block` for one block shape, captured as a CUDA graph on static buffers: a call copies the block in,
    replays the graph (one launch for all of the block's column steps) and copies the finished block back. The
    errors it returns live in a static buffer, valid until the next call."""

    def __init__(self, shape: _BlockShape, device: torch.device):
        size, rows = shape.block_size, shape.rows
        self.W1 = torch.zeros(size, rows, device=device)
        self.Hinv1 = torch.eye(size, device=device)
        self.mask1 = torch.zeros(size, rows, dtype=torch.bool, device=device)
        self.grid1 = None
        if shape.largest is not None:
            self.grid1 = (torch.ones(size, rows, device=device), torch.zeros(size, rows, device=device))
        with torch.cuda.device(device):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up outside the capture, as torch.cuda.graphs asks
                _sweep_block(self.W1, self.Hinv1, self.mask1, self.grid1, shape)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.Err1 = _sweep_block(self.W1, self.Hinv1, self.mask1, self.grid1, shape)

    def __call__(self, W1: torch.Tensor, Hinv1: torch.Tensor, mask1: torch.Tensor, grid1) -> torch.Tensor:
        self.W1.copy_(W1)
        self.Hinv1.copy_(Hinv1)
        self.mask1.copy_(mask1)
        if grid1 is not None:
            self.grid1[0].copy_(grid1[0])
            self.grid1[1].copy_(grid1[1])
        self.graph.replay()
        W1.copy_(self.W1)
        return self.Err1


@lru_cache(maxsize=8)
def _captured_sweep(shape: _BlockShape, device: torch.device) -> _CapturedSweep | None:
    """One captured sweep per block shape, reused by every module and layer of that shape (a 7B decoder layer has
    three: 512, 3584 and 18944 output rows); None, with a warning, where the capture fails, and then the blocks are
    swept eagerly: the same arithmetic, launch-bound."""
    try:
        return _CapturedSweep(shape, device)
    except RuntimeError as error:
        log.warning("the OBS block sweep could not be captured as a CUDA graph, so it runs eagerly: %s", error)
        return None


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)

"""SparseGPT (Frantar & Alistarh, 2023), Algorithm 1: prune a linear layer column block by column block,
choosing the mask by the OBS saliency w^2 / [H^-1]_jj^2 and spreading each pruned weight's error over the
not-yet-processed columns through the upper Cholesky factor of H^-1.

The arithmetic is Algorithm 1's; the layout is chosen for speed. The solver works on W^T, so that a column of
W is a contiguous row, and each column step is two calls: the error err_i = w_i * [pruned] / [H^-1]_ii and a
rank-1 update of the block's later columns (pruned weights end exactly at 0 and kept ones at their updated
value, as in the paper), with the block's later columns updated a sub-block at a time by one matmul.

On a GPU those column steps are small kernels, ~40,000 columns per 7B decoder layer, and launching them one by
one from Python would bound the speed. So the sweep of one block (`_sweep_block`, a plain function with no host
synchronisation) is captured once per block shape as a CUDA graph and replayed for every block of that shape; the
CPU runs the very same function eagerly.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from functools import lru_cache

import torch

from rac_bench.pruning.gptq import gptq_quantize
from rac_bench.pruning.obs import BLOCK_SIZE, DAMPENING, check_sparsegpt_target, prepared_inverse
from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask
from rac_bench.pruning.statistics import InputStatistics

log = logging.getLogger(__name__)

SUB_BLOCK_SIZE = 32


def sparsegpt_prune(
    weight: torch.Tensor,
    statistics: InputStatistics,
    target: SparsityTarget,
    block_size: int = BLOCK_SIZE,
    dampening: float = DAMPENING,
) -> torch.Tensor:
    """Return the pruned, updated weight (same dtype); `weight` is left untouched. With a quantization target too,
    the joint prune-then-quantize sweep of rac_bench.pruning.gptq."""
    if target.quantization is not None:
        return gptq_quantize(weight, statistics, target, block_size, dampening)
    check_sparsegpt_target(target, block_size)
    Hinv, dead = statistics.derived(("sparsegpt", dampening), lambda H: prepared_inverse(H, dampening))
    Wt = weight.detach().to(torch.float32).T.contiguous()  # Wt[j] is column j of W
    columns, rows = Wt.shape
    Wt[dead] = 0.0
    total_pruned = int(Wt.numel() * target.sparsity)  # each block takes its share, so the matrix is exact
    # Inside a block, rank-1 updates reach only the rest of a sub-block; the later columns get the sub-block's
    # errors in one matmul (the same arithmetic, regrouped). An N:M group never straddles a sub-block.
    sub_block = target.m * max(1, SUB_BLOCK_SIZE // target.m) if target.is_n_m else SUB_BLOCK_SIZE

    for i1 in range(0, columns, block_size):
        i2 = min(i1 + block_size, columns)
        # On a CPU a block is many small calls, and more threads only add barrier waits.
        with nullcontext() if Wt.is_cuda else _one_thread():
            count = total_pruned * i2 // columns - total_pruned * i1 // columns
            W1, Hinv1 = Wt[i1:i2], Hinv[i1:i2, i1:i2]
            mask1 = _block_mask(W1, Hinv1, target, count)
            full_on_gpu = Wt.is_cuda and i2 - i1 == block_size
            captured = _captured_sweep(rows, block_size, sub_block, target, Wt.device) if full_on_gpu else None
            if captured is not None:
                Err1 = captured(W1, Hinv1, mask1)
            else:
                Err1 = _sweep_block(W1, Hinv1, mask1, target, sub_block)
        Wt[i2:].addmm_(Hinv[i1:i2, i2:].T, Err1, alpha=-1.0)
    return Wt.T.to(weight.dtype).contiguous()


def _block_mask(W1: torch.Tensor, Hinv1: torch.Tensor, target: SparsityTarget, count: int) -> torch.Tensor:
    """The unstructured mask of one block, decided before its sweep on the OBS saliency; for N:M, all False: the
    sweep decides each group when it reaches it."""
    if target.is_n_m:
        return torch.zeros_like(W1, dtype=torch.bool)
    diagonal = torch.diagonal(Hinv1).reshape(-1, 1)
    return lowest_score_mask(W1**2 / diagonal**2, target, count=count)


def _sweep_block(W1: torch.Tensor, Hinv1: torch.Tensor, mask1: torch.Tensor, target: SparsityTarget, sub_block: int):
    """Prune one block of columns (rows of W1 = W^T, in place) with `mask1` (filled in here for N:M) and return
    its errors err_i. No host synchronisation and no data-dependent control flow, so a CUDA graph can capture it."""
    diagonal = torch.diagonal(Hinv1).reshape(-1, 1)
    Err1 = torch.zeros_like(W1)
    for j1 in range(0, len(W1), sub_block):
        j2 = min(j1 + sub_block, len(W1))
        for i in range(j1, j2):
            if target.is_n_m and i % target.m == 0:
                # N:M decides each group's mask when the sweep reaches it, with the updated weights.
                group = W1[i : i + target.m] ** 2 / diagonal[i : i + target.m] ** 2
                lowest = torch.topk(group, target.n, dim=0, largest=False).indices
                mask1[i : i + target.m].scatter_(0, lowest, True)
            torch.mul(W1[i], mask1[i] / Hinv1[i, i], out=Err1[i])
            W1[i + 1 : j2].addr_(Hinv1[i, i + 1 : j2], Err1[i], alpha=-1.0)
        W1[j2:].addmm_(Hinv1[j1:j2, j2:].T, Err1[j1:j2], alpha=-1.0)
    W1.masked_fill_(mask1, 0.0)
    return Err1


class _CapturedSweep:
    """`_sweep_block` for one block shape, captured as a CUDA graph on static buffers: a call copies the block in,
    replays the graph (one launch for all of the block's column steps) and copies the pruned block back. The errors
    it returns live in a static buffer, valid until the next call."""

    def __init__(self, rows: int, block_size: int, sub_block: int, target: SparsityTarget, device: torch.device):
        self.W1 = torch.zeros(block_size, rows, device=device)
        self.Hinv1 = torch.eye(block_size, device=device)
        self.mask1 = torch.zeros(block_size, rows, dtype=torch.bool, device=device)
        with torch.cuda.device(device):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up outside the capture, as torch.cuda.graphs asks
                _sweep_block(self.W1, self.Hinv1, self.mask1, target, sub_block)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.Err1 = _sweep_block(self.W1, self.Hinv1, self.mask1, target, sub_block)

    def __call__(self, W1: torch.Tensor, Hinv1: torch.Tensor, mask1: torch.Tensor) -> torch.Tensor:
        self.W1.copy_(W1)
        self.Hinv1.copy_(Hinv1)
        self.mask1.copy_(mask1)
        self.graph.replay()
        W1.copy_(self.W1)
        return self.Err1


@lru_cache(maxsize=8)
def _captured_sweep(
    rows: int, block_size: int, sub_block: int, target: SparsityTarget, device: torch.device
) -> _CapturedSweep | None:
    """One captured sweep per block shape and target, reused by every module and layer of that shape (a 7B
    decoder layer has three: 512, 3584 and 18944 output rows); None, with a warning, where the capture fails,
    and then the blocks are swept eagerly: the same arithmetic, launch-bound."""
    try:
        return _CapturedSweep(rows, block_size, sub_block, target, device)
    except RuntimeError as error:
        log.warning("the SparseGPT block sweep could not be captured as a CUDA graph, so it runs eagerly: %s", error)
        return None


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)

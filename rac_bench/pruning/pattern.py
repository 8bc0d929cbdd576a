"""Masks for compression targets (rac_bench.pruning.target): unstructured sparsity (a fraction of each matrix) or
N:M (N zeros in every M inputs)."""

from __future__ import annotations

import torch

from rac_bench.errors import ConfigError
from rac_bench.pruning.target import SparsityTarget, parse_pattern, parse_sparsity  # noqa: F401


def lowest_score_mask(
    scores: torch.Tensor, target: SparsityTarget, per_row: bool = False, count: int | None = None
) -> torch.Tensor:
    """True where a weight is pruned: the `count` (default: int(numel * sparsity)) lowest-scoring weights of
    the matrix, spread over the rows as evenly as possible when `per_row`; or, for N:M, the lowest N of every
    M consecutive columns."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    rows, cols = scores.shape
    if target.is_n_m:
        if cols % target.m:
            raise ConfigError(f"pattern {target.pattern} needs input width divisible by {target.m}, got {cols}")
        groups = scores.reshape(rows, cols // target.m, target.m)
        lowest = torch.topk(groups, target.n, dim=-1, largest=False).indices
        return mask.reshape(rows, cols // target.m, target.m).scatter_(-1, lowest, True).reshape(rows, cols)
    count = int(scores.numel() * target.sparsity) if count is None else count
    if per_row:
        # every row loses count // rows weights and the first count % rows rows one more, so the matrix is exact
        base, extra = divmod(count, rows)
        order = torch.argsort(scores, dim=1)
        row_counts = base + (torch.arange(rows, device=scores.device) < extra).long()
        keep_going = torch.arange(cols, device=scores.device).reshape(1, -1) < row_counts.reshape(-1, 1)
        return mask.scatter_(1, order, keep_going)
    if count:
        flat, below = scores.flatten(), mask.view(-1)
        if flat.is_cuda:
            # the first `count` of a stable sort: the same weights as below (ties lowest index first), with no host
            # synchronisation; CUDA's kthvalue selects within one thread block per slice, which is slow at this size
            below[torch.sort(flat, stable=True).indices[:count]] = True
            return mask
        # the count-th smallest score as a threshold (kthvalue is several times faster than a large topk), then
        # as many ties at the threshold as the count still needs, lowest index first
        threshold = torch.kthvalue(flat, count).values
        torch.lt(flat, threshold, out=below)
        ties = torch.nonzero(flat == threshold).flatten()[: count - int(below.sum())]
        below[ties] = True
    return mask

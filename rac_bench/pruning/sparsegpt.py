"""SparseGPT (Frantar & Alistarh, 2023), Algorithm 1: prune a linear layer column block by column block,
choosing the mask by the OBS saliency w^2 / [H^-1]_jj^2 and spreading each pruned weight's error over the
not-yet-processed columns through the upper Cholesky factor of H^-1 (pruned weights end exactly at 0 and kept ones
at their updated value, as in the paper). The sweep itself, shared with GPTQ, is rac_bench.pruning.sweep; with a
quantization target too, the kept weights are also rounded, in the same sweep (rac_bench.pruning.gptq).
"""

from __future__ import annotations

import torch

from rac_bench.pruning.gptq import gptq_quantize
from rac_bench.pruning.obs import BLOCK_SIZE, DAMPENING, check_sparsegpt_target, prepared_inverse
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.statistics import InputStatistics
from rac_bench.pruning.sweep import MaskRule, obs_sweep


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
    Wt[dead] = 0.0
    obs_sweep(Wt, Hinv, MaskRule.of(target), None, block_size)
    return Wt.T.to(weight.dtype).contiguous()

"""Random pruning as a rac-bench method: a uniformly random mask at the target sparsity or N:M pattern.

It uses rac-bench's layer-sequential engine through LayerwiseMethod; a method may instead implement
`name`, `description`, `calibration_source` and `prune(model, context)` itself.
"""

import torch

from rac_bench.methods import LayerwiseMethod
from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask


def random_prune(weight: torch.Tensor, statistics, target: SparsityTarget) -> torch.Tensor:
    generator = torch.Generator().manual_seed(weight.numel())
    scores = torch.rand(weight.shape, generator=generator)
    return weight.detach().masked_fill(lowest_score_mask(scores, target), 0)


METHOD = LayerwiseMethod("random", "uniformly random mask; no calibration (entry-point example)", random_prune, None)

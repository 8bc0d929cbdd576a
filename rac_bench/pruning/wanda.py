"""Wanda (Sun et al., 2023): prune the weights with the smallest |W_ij| * ||X_j||_2, compared within each
output row; no weight update."""

from __future__ import annotations

import torch

from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask
from rac_bench.pruning.statistics import InputStatistics


def wanda_prune(weight: torch.Tensor, statistics: InputStatistics, target: SparsityTarget) -> torch.Tensor:
    scores = weight.detach().abs().to(torch.float32) * statistics.channel_norms.reshape(1, -1)
    return weight.detach().masked_fill(lowest_score_mask(scores, target, per_row=True), 0)

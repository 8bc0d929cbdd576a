"""Magnitude pruning: zero the smallest |W| of each matrix. Needs no calibration data."""

from __future__ import annotations

import torch

from rac_bench.pruning.pattern import SparsityTarget, lowest_score_mask


def magnitude_prune(weight: torch.Tensor, statistics, target: SparsityTarget) -> torch.Tensor:
    return weight.detach().masked_fill(lowest_score_mask(weight.detach().abs().to(torch.float32), target), 0)

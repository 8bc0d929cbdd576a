"""Removing input channels of a projection, and keeping its output as well as the calibration tokens allow.

For the projection that reads the removed channels (down_proj reads the MLP's intermediate channels, o_proj the
attention heads' outputs), with W [out, in] and H = sum_t x_t x_t^T over its calibration inputs:
- a channel's importance is what it adds to the output's energy, H_jj * ||W[:, j]||^2 (Wanda's |W| * ||x|| score,
  squared and summed over a column: the score of FLAP and Minitron's activation-based width pruning);
- with K the kept channels, the least-squares fix min_W' sum_t ||W x_t - W' x_t[K]||^2 has the normal equations
  W' H[K, K] = W H[:, K], so W' = W H[:, K] H[K, K]^-1: SparseGPT's reconstruction applied to removed columns
  (SliceGPT and FLAP compensate the next projection the same way), with SparseGPT's 1% dampening of H's diagonal.
"""

from __future__ import annotations

import torch

DAMPENING = 0.01  # of H's mean diagonal, as SparseGPT's percdamp


def channel_scores(weight: torch.Tensor, hessian: torch.Tensor) -> torch.Tensor:
    """Each input channel's contribution to the output energy: H_jj * ||W[:, j]||^2."""
    return hessian.diagonal() * weight.float().pow(2).sum(dim=0)


def kept_groups(scores: torch.Tensor, group_width: int, keep: int) -> torch.Tensor:
    """Indices (ascending) of the `keep` most important groups of `group_width` consecutive channels."""
    totals = scores.reshape(-1, group_width).sum(dim=1)
    return torch.sort(torch.topk(totals, keep).indices).values


def group_channels(groups: torch.Tensor, group_width: int) -> torch.Tensor:
    """The channel indices of whole groups, in order."""
    return (groups[:, None] * group_width + torch.arange(group_width)).reshape(-1)


def reconstruct(weight: torch.Tensor, hessian: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """W' [out, len(keep)] minimising the output error over the calibration inputs when only `keep` is read."""
    kept = hessian[keep][:, keep].clone()
    damping = DAMPENING * kept.diagonal().mean().clamp_min(1e-8)
    kept.diagonal().add_(damping)
    right = hessian[keep] @ weight.float().T  # H[K, :] W^T = (W H[:, K])^T
    factor = torch.linalg.cholesky(kept)
    return torch.cholesky_solve(right, factor).T


def relative_error(weight: torch.Tensor, hessian: torch.Tensor, keep: torch.Tensor, kept: torch.Tensor) -> float:
    """sum_t ||W x_t - W' x_t[K]||^2 / sum_t ||W x_t||^2 over the calibration inputs."""
    embedded = torch.zeros_like(weight, dtype=torch.float32)
    embedded[:, keep] = kept.float()
    delta = weight.float() - embedded
    total = float(((weight.float() @ hessian) * weight.float()).sum())
    return float(((delta @ hessian) * delta).sum()) / total if total > 0 else 0.0

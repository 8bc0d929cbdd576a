"""What a linear layer's calibration inputs tell the pruners: the Hessian H = 2/N * sum(x x^T) of the
layer-wise least-squares problem (SparseGPT) and, from its diagonal, each input channel's squared norm (Wanda).
"""

from __future__ import annotations

import torch


class InputStatistics:
    """Accumulates H over calibration tokens as a running token average, so batches may arrive in any split."""

    def __init__(self, in_features: int):
        self.hessian = torch.zeros(in_features, in_features, dtype=torch.float32)
        self.tokens = 0

    def add(self, inputs: torch.Tensor) -> None:
        x = inputs.reshape(-1, inputs.shape[-1]).to(torch.float32)
        count = x.shape[0]
        if count == 0:
            return
        total = self.tokens + count
        self.hessian.mul_(self.tokens / total)
        self.hessian.addmm_(x.T, x, alpha=2.0 / total)
        self.tokens = total

    @property
    def channel_norms(self) -> torch.Tensor:
        """sqrt(mean_t x_j^2) per input channel j: Wanda's activation norm (up to a constant factor)."""
        return torch.sqrt(torch.diagonal(self.hessian) / 2.0)

    def relative_error(self, dense: torch.Tensor, pruned: torch.Tensor) -> float:
        """||(W - W') X||^2 / ||W X||^2 on the calibration tokens, computed from H without the tokens."""
        delta = (dense - pruned).to(torch.float32)
        dense = dense.to(torch.float32)
        numerator = torch.sum((delta @ self.hessian) * delta)
        denominator = torch.sum((dense @ self.hessian) * dense)
        return float(numerator / denominator) if denominator > 0 else 0.0

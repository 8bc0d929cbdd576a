"""What a linear layer's calibration inputs tell the pruners: the Hessian H = 2 * sum_t w_t x_t x_t^T / sum_t w_t
of the layer-wise least-squares problem (SparseGPT) and, from its diagonal, each input channel's squared norm
(Wanda). Token weights w_t are 1 unless `--cot-weight` weighs chain-of-thought tokens differently.
"""

from __future__ import annotations

from typing import Callable

import torch

# Short sequences are buffered and accumulated together: one x^T x of a few rows reads and writes all of H.
FLUSH_TOKENS = 1024
# x^T x is symmetric: wide inputs are cut into column blocks of about this width and only the blocks on and
# above the diagonal are multiplied (10 of 16 for a 2048-wide input), then mirrored once when H is read.
SYMMETRIC_BLOCK = 512


class InputStatistics:
    """Accumulates the weighted sum of x x^T in fp32 (its upper triangle, per flush) and divides once, when H is read, so
    batches may arrive in any split. Quantities derived from H (e.g. SparseGPT's inverse-Hessian factor) are
    cached here, so modules that read the same input share one copy."""

    def __init__(self, in_features: int):
        self.in_features = in_features
        self.tokens = 0
        self.total_weight = 0.0
        self._sum: torch.Tensor | None = None  # allocated on the device of the first inputs
        self._pending: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        self._pending_tokens = 0
        self._hessian: torch.Tensor | None = None
        self._derived: dict = {}

    def add(self, inputs: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """`inputs` (..., in_features); `weights` one per token (the leading dimensions flattened), or None for 1."""
        x = inputs.detach().reshape(-1, inputs.shape[-1]).to(torch.float32)
        if x.shape[0] == 0:
            return
        if self._sum is None:
            self._sum = torch.zeros(self.in_features, self.in_features, dtype=torch.float32, device=x.device)
        if weights is not None:
            weights = weights.reshape(-1).to(device=x.device, dtype=torch.float32)
            if weights.shape[0] != x.shape[0]:
                raise ValueError(f"{weights.shape[0]} token weights for {x.shape[0]} tokens")
        self._pending.append((x, weights))
        self._pending_tokens += x.shape[0]
        self.tokens += x.shape[0]
        self._hessian = None
        self._derived.clear()
        if self._pending_tokens >= FLUSH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = torch.cat([rows for rows, _ in self._pending]) if len(self._pending) > 1 else self._pending[0][0]
        if all(weights is None for _, weights in self._pending):
            self._accumulate_upper(x, x)
            self.total_weight += x.shape[0]
        else:
            weights = torch.cat(
                [torch.ones(len(rows), device=rows.device) if w is None else w for rows, w in self._pending]
            )
            self._accumulate_upper(x * weights.reshape(-1, 1), x)
            self.total_weight += float(weights.sum())
        self._pending, self._pending_tokens = [], 0

    def _accumulate_upper(self, left: torch.Tensor, right: torch.Tensor) -> None:
        """sum += left^T right on the column blocks on and above the diagonal (the lower ones stay 0)."""
        width = self.in_features
        blocks = max(1, round(width / SYMMETRIC_BLOCK))
        edges = [width * b // blocks for b in range(blocks + 1)]
        for i in range(blocks):
            rows = slice(edges[i], edges[i + 1])
            self._sum[rows, edges[i] :].addmm_(left[:, rows].T, right[:, edges[i] :])

    @property
    def hessian(self) -> torch.Tensor:
        if self._hessian is None:
            self._flush()
            if self._sum is None:  # no inputs at all
                self._sum = torch.zeros(self.in_features, self.in_features, dtype=torch.float32)
            upper = torch.triu(self._sum)
            full = upper + torch.triu(self._sum, diagonal=1).T
            self._hessian = full.mul_(2.0 / self.total_weight) if self.total_weight > 0 else full
        return self._hessian

    def derived(self, key, compute: Callable[[torch.Tensor], object]):
        """compute(H), once per key until more inputs arrive."""
        if key not in self._derived:
            self._derived[key] = compute(self.hessian)
        return self._derived[key]

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

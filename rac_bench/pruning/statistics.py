"""What a linear layer's calibration inputs tell the pruners: the Hessian H = 2 * sum_t w_t x_t x_t^T / sum_t w_t
of the layer-wise least-squares problem (SparseGPT) and, from its diagonal, each input channel's squared norm
(Wanda). Token weights w_t are 1 unless `--cot-weight` weighs chain-of-thought tokens differently.

Numerics on CUDA. When every input of a flush arrived as bf16 or fp16 and unweighted, x^T x multiplies them as
they are, on bf16/fp16 tensor cores, and writes fp32 sums (`torch.mm(..., out_dtype=torch.float32)`; where torch
lacks it, the inputs go to fp32 and the matmul runs on TF32 tensor cores, which holds them exactly too). Nothing is
rounded on the way in: each product of two such values (at most 22 significant bits) is exact in fp32, and the
products are summed in fp32. The sums differ from IEEE fp32 matmul only in their rounding (the tensor cores add a
few products at a time and may truncate, as any reordering of a sum changes its last bits). Other inputs (fp32,
or weighted, whose products x_t * w_t need not be exact) keep IEEE fp32, as does the CPU.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from itertools import pairwise
from typing import Callable

import torch

# Short sequences are buffered and accumulated together: one x^T x of a few rows reads and writes all of H.
FLUSH_TOKENS = 1024
# x^T x is symmetric: wide inputs are cut into column blocks of about this width and only the blocks on and
# above the diagonal are multiplied (10 of 16 for a 2048-wide input), then mirrored once when H is read.
SYMMETRIC_BLOCK = 512
EXACT_IN_FP32_PRODUCTS = (torch.bfloat16, torch.float16)
# torch.mm(a, b, out_dtype=torch.float32) for bf16/fp16 a and b: a CUDA kernel since torch 2.8
MM_WITH_OUT_DTYPE = "dtype" in torch.ops.aten.mm.overloads()


class InputStatistics:
    """Accumulates the weighted sum of x x^T in fp32 (its upper triangle, per flush) and divides once, when H is read, so
    batches may arrive in any split. H is built in the accumulator's own memory (a 7B model's MLP input gives a
    1.4 GB H), so inputs are refused once H has been read. Quantities derived from H (e.g. SparseGPT's
    inverse-Hessian factor) are cached here, so modules that read the same input share one copy."""

    def __init__(self, in_features: int):
        self.in_features = in_features
        self.tokens = 0
        self.total_weight = 0.0
        self._sum: torch.Tensor | None = None  # allocated on the device of the first inputs
        self._pending: list[tuple[torch.Tensor, torch.Tensor | None]] = []  # rows, weights
        self._pending_tokens = 0
        self._hessian: torch.Tensor | None = None
        self._derived: dict = {}

    def add(self, inputs: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """`inputs` (..., in_features); `weights` one per token (the leading dimensions flattened), or None for 1."""
        if self._hessian is not None:
            raise RuntimeError("H has been read: its accumulator is gone; gather more inputs in a new InputStatistics")
        x = inputs.detach().reshape(-1, inputs.shape[-1])
        if not (x.is_cuda and weights is None and x.dtype in EXACT_IN_FP32_PRODUCTS):
            x = x.to(torch.float32)  # the rows a tensor-core product in fp32 holds exactly stay as they came
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
        if self._pending_tokens >= FLUSH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = [rows for rows, _ in self._pending]
        exact_in_products = all(x.dtype in EXACT_IN_FP32_PRODUCTS for x in rows)  # only on CUDA, unweighted (add)
        if len({x.dtype for x in rows}) > 1 or (exact_in_products and not MM_WITH_OUT_DTYPE):
            rows = [x.to(torch.float32) for x in rows]
        x = torch.cat(rows) if len(rows) > 1 else rows[0]
        if all(weights is None for _, weights in self._pending):
            with _tf32_matmuls() if exact_in_products and x.dtype == torch.float32 else nullcontext():
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
        """sum += left^T right on the column blocks on and above the diagonal (the lower ones stay 0). bf16/fp16
        operands are multiplied as they are into fp32 products (see the module's numerics)."""
        for start, stop in self._symmetric_blocks():
            block, mat1, mat2 = self._sum[start:stop, start:], left[:, start:stop].T, right[:, start:]
            if left.dtype == torch.float32:
                block.addmm_(mat1, mat2)
            else:
                block.add_(torch.mm(mat1, mat2, out_dtype=torch.float32))

    def _symmetric_blocks(self) -> list[tuple[int, int]]:
        width = self.in_features
        blocks = max(1, round(width / SYMMETRIC_BLOCK))
        edges = [width * b // blocks for b in range(blocks + 1)]
        return list(pairwise(edges))

    @property
    def hessian(self) -> torch.Tensor:
        if self._hessian is None:
            self._flush()
            if self._sum is None:  # no inputs at all
                self._sum = torch.zeros(self.in_features, self.in_features, dtype=torch.float32)
            full, self._sum = self._sum, None
            self._mirror_upper_in_place(full)
            self._hessian = full.mul_(2.0 / self.total_weight) if self.total_weight > 0 else full
        return self._hessian

    def _mirror_upper_in_place(self, full: torch.Tensor) -> None:
        """The lower triangle := the upper one transposed, a row block at a time: each block's left part is read
        from above the diagonal, which is never written, and only its diagonal square takes a temporary."""
        for start, stop in self._symmetric_blocks():
            full[start:stop, :start].copy_(full[:start, start:stop].T)
            square = full[start:stop, start:stop]
            square.copy_(torch.triu(square) + torch.triu(square, diagonal=1).T)

    def derived(self, key, compute: Callable[[torch.Tensor], object]):
        """compute(H), once per key (H is final once read: `add` refuses inputs after that)."""
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


@contextmanager
def _tf32_matmuls():
    """fp32 CUDA matmuls on TF32 tensor cores inside the block; the caller's setting is restored after it. torch
    refuses to read a flag set through the other of its two TF32 APIs, so the newer one is used where it exists."""
    matmul = torch.backends.cuda.matmul
    name, value = ("fp32_precision", "tf32") if hasattr(matmul, "fp32_precision") else ("allow_tf32", True)
    saved = getattr(matmul, name)
    setattr(matmul, name, value)
    try:
        yield
    finally:
        setattr(matmul, name, saved)

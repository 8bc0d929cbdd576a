"""The optimal-brain-surgeon pieces that SparseGPT and GPTQ share: the damped inverse Hessian's upper Cholesky
factor, computed once per input and reused by every matrix that reads it, and the block size the column sweeps
work in (which an N:M pattern's M must divide)."""

from __future__ import annotations

import logging

import torch

from rac_bench.pruning.target import BLOCK_SIZE, check_sparsegpt_target  # noqa: F401 (the solvers' block)

log = logging.getLogger(__name__)

DAMPENING = 0.01
MAX_DAMPENING_RETRIES = 6


def inverse_hessian_factor(hessian: torch.Tensor, dampening: float = DAMPENING) -> torch.Tensor:
    """Upper Cholesky factor U of (H + lambda I)^-1 (U^T U = H^-1), lambda = dampening * mean(diag H); on failure
    lambda grows 10x. With J the order-reversing permutation and J H J = L L^T, U = J L^-1 J: one Cholesky and
    one triangular inverse (n^3/3 flops each) instead of Cholesky, inverse and a second Cholesky (4n^3/3)."""
    mean_diagonal = torch.mean(torch.diagonal(hessian))
    damped = torch.flip(hessian, (0, 1))  # dampened in place on its diagonal: no n x n identity or second copy
    diagonal = damped.diagonal().clone()
    for attempt in range(MAX_DAMPENING_RETRIES):
        torch.add(diagonal, (dampening * 10**attempt) * mean_diagonal, out=damped.diagonal())
        factor, info = torch.linalg.cholesky_ex(damped)
        if info == 0:
            if attempt:
                log.warning("Cholesky needed dampening %.0e of mean diag H", dampening * 10**attempt)
            del damped
            inverse = lower_triangular_inverse(factor)
            del factor
            return torch.flip(inverse, (0, 1))
    raise FloatingPointError("H + lambda I is not positive definite even with 1e4x the default dampening")


def lower_triangular_inverse(lower: torch.Tensor) -> torch.Tensor:
    """L^-1 in n^3/3 flops, by halves: [[A, 0], [B, C]]^-1 = [[A^-1, 0], [-C^-1 B A^-1, C^-1]], where the
    off-diagonal block takes two triangular solves and the diagonal blocks recurse."""
    n = len(lower)
    if n <= 256:
        return torch.linalg.solve_triangular(lower, torch.eye(n, dtype=lower.dtype, device=lower.device), upper=False)
    h = n // 2
    A, B, C = lower[:h, :h], lower[h:, :h], lower[h:, h:]
    inverse = torch.zeros_like(lower)
    inverse[:h, :h] = lower_triangular_inverse(A)
    inverse[h:, h:] = lower_triangular_inverse(C)
    B_Ainv = torch.linalg.solve_triangular(A, B, upper=False, left=False)
    inverse[h:, :h] = torch.linalg.solve_triangular(C, B_Ainv, upper=False).neg_()
    return inverse


def prepared_inverse(hessian: torch.Tensor, dampening: float = DAMPENING) -> tuple[torch.Tensor, torch.Tensor]:
    """(upper Cholesky factor of the damped H^-1, mask of dead inputs). Inputs that are never active carry no
    information: their diagonal is set to 1 and any weight on them is free to prune. Depends on H alone, so it
    is computed once per input and shared by the modules that read it (q/k/v, gate/up)."""
    dead = torch.diagonal(hessian) == 0
    H = hessian
    if bool(dead.any()):  # H is copied only when it must change
        H = hessian.clone()
        H[dead, dead] = 1.0
    return inverse_hessian_factor(H, dampening), dead

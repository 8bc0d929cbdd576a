"""Reasoning-Aware Compression (arXiv 2509.12464): the SparseGPT solver, calibrated on the prompts followed by
the dense model's own chain of thought and answer, so the reconstruction covers the decoding distribution.
It differs from `sparsegpt` only in its calibration source."""

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.sparsegpt import check_sparsegpt_target, sparsegpt_prune

register_method(
    LayerwiseMethod(
        "rac",
        "SparseGPT calibrated on prompts + the dense model's own traces",
        sparsegpt_prune,
        "traces",
        check_sparsegpt_target,
        quantizes=True,  # sparsegpt:w4 prunes, then quantizes the kept weights in the same sweep
        paper="https://arxiv.org/abs/2509.12464",
    )
)

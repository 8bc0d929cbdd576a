"""Reasoning-Aware Compression (arXiv 2509.12464): the SparseGPT solver, calibrated on the prompts followed by
the dense model's own chain of thought and answer, so the reconstruction covers the decoding distribution.
It differs from `sparsegpt` only in its calibration source: `rac` is `sparsegpt@traces` under its paper's name, one
variant whichever name a run asks for (`rac:w4` is `sparsegpt:w4@traces`)."""

from rac_bench.methods import register_method
from rac_bench.methods.base import MethodAlias

register_method(
    MethodAlias(
        "rac",
        "SparseGPT calibrated on prompts + the dense model's own traces",
        "sparsegpt",
        "traces",
        paper="https://arxiv.org/abs/2509.12464",
    )
)

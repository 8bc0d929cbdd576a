"""Wanda's statistics gathered on RAC calibration data (prompts + the dense model's own traces); the RAC paper
reports that on-policy calibration helps every calibrated method, not only SparseGPT. `rac-wanda` is `wanda@traces`
under another name: one variant whichever name a run asks for."""

from rac_bench.methods import register_method
from rac_bench.methods.base import MethodAlias

register_method(
    MethodAlias(
        "rac-wanda",
        "Wanda calibrated on prompts + the dense model's own traces",
        "wanda",
        "traces",
        paper="https://arxiv.org/abs/2509.12464",
    )
)

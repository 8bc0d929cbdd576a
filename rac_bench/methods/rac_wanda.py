"""Wanda's statistics gathered on RAC calibration data (prompts + the dense model's own traces); the RAC paper
reports that on-policy calibration helps every calibrated method, not only SparseGPT."""

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction

wanda_prune = LazyFunction("rac_bench.pruning.wanda", "wanda_prune")

register_method(
    LayerwiseMethod(
        "rac-wanda",
        "Wanda calibrated on prompts + the dense model's own traces",
        wanda_prune,
        "traces",
        paper="https://arxiv.org/abs/2509.12464",
    )
)

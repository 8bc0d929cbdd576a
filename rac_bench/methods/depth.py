"""Depth pruning: whole decoder layers removed, those of lowest Block Influence over the calibration tokens (ShortGPT,
arXiv 2403.03853; rac_bench.pruning.depth), with the budget's remainder under one layer taken as MLP channels."""

from rac_bench.methods import register_method
from rac_bench.methods.base import LazyFunction
from rac_bench.methods.structured import StructuredMethod

register_method(
    StructuredMethod(
        "depth",
        "Depth pruning: decoder layers of lowest Block Influence removed (ShortGPT; smaller model)",
        "prompts",
        LazyFunction("rac_bench.pruning.shape", "plan_structure"),
        LazyFunction("rac_bench.pruning.structured", "restructure_model"),
        paper="https://arxiv.org/abs/2403.03853",
    )
)

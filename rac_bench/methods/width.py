"""Width pruning: the same number of whole KV groups and MLP intermediate channels removed from every decoder
layer, chosen by their calibrated output energy, with o_proj and down_proj refitted by least squares
(rac_bench.pruning.width; FLAP, arXiv 2312.11983, and Minitron, arXiv 2407.14679, prune width this way)."""

from rac_bench.methods import register_method
from rac_bench.methods.base import LazyFunction
from rac_bench.methods.structured import StructuredMethod

register_method(
    StructuredMethod(
        "width",
        "Width pruning: whole KV groups and MLP channels removed, next projection refitted (smaller model)",
        "prompts",
        LazyFunction("rac_bench.pruning.shape", "plan_structure"),
        LazyFunction("rac_bench.pruning.structured", "restructure_model"),
        paper="https://arxiv.org/abs/2312.11983",
    )
)

"""Expert pruning: whole experts removed from every mixture-of-experts layer with their router rows, the expert count
updated and top-k unchanged (rac_bench.pruning.expert_removal). `experts` ranks them by REAP's saliency (router weight
x expert output norm over the routed calibration tokens, arXiv 2510.13999); `experts-frequency` by how often the
router chooses them."""

from functools import partial

from rac_bench.methods import register_method
from rac_bench.methods.base import LazyFunction
from rac_bench.methods.structured import StructuredMethod

plan_experts = LazyFunction("rac_bench.pruning.expert_plan", "plan_experts")
remove_experts = LazyFunction("rac_bench.pruning.expert_removal", "remove_experts")

register_method(
    StructuredMethod(
        "experts",
        "Expert pruning by REAP saliency: whole experts and their router rows removed (smaller MoE model)",
        "prompts",
        plan_experts,
        partial(remove_experts, saliency="reap"),
        paper="https://arxiv.org/abs/2510.13999",
    )
)
register_method(
    StructuredMethod(
        "experts-frequency",
        "Expert pruning by routed frequency: the least chosen experts and their router rows removed",
        "prompts",
        plan_experts,
        partial(remove_experts, saliency="frequency"),
        paper="https://arxiv.org/abs/2510.13999",
    )
)

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction

wanda_prune = LazyFunction("rac_bench.pruning.wanda", "wanda_prune")

register_method(
    LayerwiseMethod(
        "wanda",
        "Wanda |W|*||X|| per row, calibrated on task prompts",
        wanda_prune,
        "prompts",
        paper="https://arxiv.org/abs/2306.11695",
    )
)

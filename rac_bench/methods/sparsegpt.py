from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction

sparsegpt_prune = LazyFunction("rac_bench.pruning.sparsegpt", "sparsegpt_prune")
check_sparsegpt_target = LazyFunction("rac_bench.pruning.target", "check_sparsegpt_target")

register_method(
    LayerwiseMethod(
        "sparsegpt",
        "SparseGPT (OBS), calibrated on task prompts alone",
        sparsegpt_prune,
        "prompts",
        check_sparsegpt_target,
        quantizes=True,  # sparsegpt:w4 prunes, then quantizes the kept weights in the same sweep
        solves_obs=True,
        paper="https://arxiv.org/abs/2301.00774",
    )
)

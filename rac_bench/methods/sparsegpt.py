from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.pruning.sparsegpt import check_sparsegpt_target, sparsegpt_prune

register_method(
    LayerwiseMethod(
        "sparsegpt",
        "SparseGPT (OBS), calibrated on task prompts alone",
        sparsegpt_prune,
        "prompts",
        check_sparsegpt_target,
    )
)

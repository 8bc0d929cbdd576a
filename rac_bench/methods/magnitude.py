from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction

magnitude_prune = LazyFunction("rac_bench.pruning.magnitude", "magnitude_prune")

register_method(
    LayerwiseMethod(
        "magnitude",
        "smallest |W| per matrix; no calibration",
        magnitude_prune,
        None,
        paper="https://arxiv.org/abs/1506.02626",  # Han et al., Learning both Weights and Connections
    )
)

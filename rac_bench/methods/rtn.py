"""Round-to-nearest weight quantization: every group of every row onto its own grid, no calibration, no update. The
floor any calibrated quantizer must beat; settings in the spec (`rtn:w4g128`, rac_bench.pruning.quantization)."""

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction

register_method(
    LayerwiseMethod(
        "rtn",
        "round to nearest, per row or group (rtn:w4g128); no calibration",
        LazyFunction("rac_bench.pruning.quantization", "rtn_quantize"),
        None,
        prunes=False,
        quantizes=True,
    )
)

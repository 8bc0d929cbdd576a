"""Wanda's statistics gathered on RAC calibration data (prompts + the dense model's own traces); the RAC paper
reports that on-policy calibration helps every calibrated method, not only SparseGPT."""

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.pruning.wanda import wanda_prune

register_method(
    LayerwiseMethod("rac-wanda", "Wanda calibrated on prompts + the dense model's own traces", wanda_prune, "traces")
)

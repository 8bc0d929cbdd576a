"""GPTQ (Frantar et al., 2023): weight quantization with the OBS update SparseGPT uses, calibrated like any method
(`gptq:w4g128` on task prompts, `gptq:w4g128@traces` on the dense model's own chains of thought, at the same token
budget); settings in the spec (rac_bench.pruning.quantization)."""

from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.methods.base import LazyFunction
from rac_bench.methods.sparsegpt import check_sparsegpt_target

register_method(
    LayerwiseMethod(
        "gptq",
        "GPTQ weight quantization (gptq:w4g128), calibrated on task prompts",
        LazyFunction("rac_bench.pruning.gptq", "gptq_quantize"),
        "prompts",
        check_sparsegpt_target,  # the same column blocks: an N:M pattern's M must divide them
        prunes=False,
        quantizes=True,
        solves_obs=True,
        orders_by_activation=True,
        paper="https://arxiv.org/abs/2210.17323",
    )
)

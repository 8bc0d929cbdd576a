"""A model compressed by another tool, evaluated as a variant of the run's `--model` (`LABEL=checkpoint:DIR`): it is
loaded, not pruned, and gets the same Δ, thinking ratio and drift against the dense model as any method, with its
achieved sparsity counted in its weights and a fingerprint from the content of its files."""

from rac_bench.errors import ConfigError
from rac_bench.methods import register_method
from rac_bench.methods.base import OUTSIDE


class OutsideCheckpoint:
    name = "checkpoint"
    description = "a model saved by another tool, loaded as a variant of --model: [LABEL=]checkpoint:DIR"
    calibration_source = None
    kind = OUTSIDE

    def prune(self, model, context):
        raise ConfigError("checkpoint:DIR variants are loaded from DIR, not pruned")


register_method(OutsideCheckpoint())

"""The unpruned reference every other method is compared with."""

from rac_bench.methods import register_method
from rac_bench.methods.base import DENSE


class Dense:
    name = "dense"
    description = "the unpruned model (reference)"
    calibration_source = None
    kind = DENSE

    def prune(self, model, context):
        return None


register_method(Dense())

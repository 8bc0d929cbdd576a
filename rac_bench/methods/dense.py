"""The unpruned reference every other method is compared with."""

from rac_bench.methods import register_method


class Dense:
    name = "dense"
    description = "the unpruned model (reference)"
    calibration_source = None

    def prune(self, model, context):
        return None


register_method(Dense())

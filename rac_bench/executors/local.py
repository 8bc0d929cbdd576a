"""The local executor: every variant of a model in this process, one after another, dense first."""

from __future__ import annotations

from rac_bench.config import RunConfig
from rac_bench.dense_model import load_dense
from rac_bench.plan import Plan
from rac_bench.runner import ModelJob, run_variant
from rac_bench.variants import build_calibration_sets


class LocalExecutor:
    def placed(self, config: RunConfig) -> RunConfig:
        return config  # device and dtype were resolved on this machine when the config was validated

    def prepare(self, plan: Plan, model: str | None) -> ModelJob:
        """Load the dense model and build the calibration sets its variants need: bad models and unusable
        calibration data fail here, before the run writes anything."""
        dense = load_dense(plan.config, model)
        build_calibration_sets(plan, dense)

        def job(store, run_id: str) -> list[str]:
            return [key for variant in plan.variants for key in run_variant(plan, store, run_id, dense, variant)]

        return job

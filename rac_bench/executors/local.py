"""The local executor: every variant of a model on this machine, dense first. Every variant is pruned (and its label
checked against its saved weights) before the first cell is written, so a method that fails its label stops the run
before it writes anything.

A small model (one torch thread each: rac_bench.threads) on a machine with a core to spare is evaluated in two lanes
(rac_bench.executors.lanes): a forked worker evaluates dense while this process prunes, then every other pruned
variant, while this process evaluates the rest. Otherwise one variant after another, each cell stored as it finishes.
"""

from __future__ import annotations

from rac_bench.checkpoints import load_weights
from rac_bench.config import RunConfig
from rac_bench.dense_model import load_dense
from rac_bench.executors import ModelJob
from rac_bench.executors import lanes
from rac_bench.plan import Plan
from rac_bench.runner import run_variant, variants_to_build
from rac_bench.variants import build_calibration_sets, build_variant


class LocalExecutor:
    def placed(self, config: RunConfig) -> RunConfig:
        return config  # device and dtype were resolved on this machine when the config was validated

    def prepare(self, plan: Plan, model: str | None) -> ModelJob:
        """Load the dense model, build the calibration sets its variants need and prune every variant the run
        will evaluate: bad models, unusable calibration data and labels their weights do not meet fail here,
        before the run writes anything."""
        dense = load_dense(plan.config, model)
        if lanes.two_lanes_fit(plan, dense):
            return lanes.two_lane_job(plan, dense)
        build_calibration_sets(plan, dense)
        built = {}
        for variant in variants_to_build(plan, dense):
            variant_built = build_variant(variant, dense, plan.config)
            variant_built.model = None  # loaded again from its checkpoint when evaluated: one model in memory
            built[variant_built.fingerprint] = variant_built
        dense.check_unchanged(weights=True)  # no method reached the dense model: checked before the first write

        def job(store, run_id: str) -> list[str]:
            dense.remember(plan.config)
            keys = []
            for variant in plan.variants:
                prebuilt = built.pop(variant.fingerprint(dense.fingerprint), None)
                if prebuilt is not None:
                    prebuilt.model = load_weights(prebuilt.checkpoint, dense.model.dtype)
                keys += run_variant(plan, store, run_id, dense, variant, prebuilt)
            return keys

        return job

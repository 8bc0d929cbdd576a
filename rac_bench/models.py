"""Loading the model under test: the embedded tiny reasoner by default, any local HF directory or hub id, a
GGUF file (rac_bench.gguf, converted once into a cached HF directory), or `smollm2-reasoner` (rac_bench.zoo.smollm2,
SmolLM2's GGUF file with the shipped adapter merged, likewise cached).

A hub id that is not in the local cache is only fetched after a quick check that the hub answers: offline,
huggingface_hub retries for about a minute and prints a warning per retry."""

from __future__ import annotations

import re
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from rac_bench.errors import ModelLoadError, first_line
from rac_bench.gguf import converted_directory, gguf_config, gguf_file
from rac_bench.zoo import EMBEDDED_MODEL_DIR, EMBEDDED_MODEL_NAME  # noqa: F401 (imported from here by others)
from rac_bench.zoo.smollm2 import is_reasoner, reasoner_directory, smollm2_gguf

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
HUB_TIMEOUT_SECONDS = 5.0


def model_path(reference: str | None, cache_dir: Path | None = None) -> str:
    """What transformers and vLLM load: the embedded model's directory, a GGUF file's converted directory (made on
    first use, under `cache_dir`), or the reference itself."""
    if reference is None:
        return str(EMBEDDED_MODEL_DIR)
    if is_reasoner(reference):
        from rac_bench.config import default_cache_dir

        return str(reasoner_directory(cache_dir or default_cache_dir()))
    gguf = gguf_file(reference)
    if gguf is not None:
        from rac_bench.config import default_cache_dir

        return str(converted_directory(gguf, cache_dir or default_cache_dir()))
    return reference


def check_model_reference(reference: str) -> None:
    """Fail early on a path that does not exist; a hub id is only checked when it loads."""
    if is_reasoner(reference):
        smollm2_gguf()  # its base must be installed; the adapter ships with rac-bench
        return
    path = Path(reference).expanduser()
    if path.exists():
        if gguf_file(reference) is None and not (path / "config.json").exists():
            raise ModelLoadError(
                f"model {reference} is neither a Hugging Face model directory (it has no config.json) nor a GGUF "
                "file; accepted: a directory with config.json, a .gguf file or a directory holding one"
            )
        return
    if not _HUB_ID.fullmatch(reference) or reference.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"model {reference!r} is neither an existing directory nor a hub id; accepted: a Hugging Face model "
            "directory, a .gguf file or an id like deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
        )


def check_hub_reachable(timeout: float = HUB_TIMEOUT_SECONDS) -> None:
    """Fail in seconds when the hub cannot be reached, instead of after huggingface_hub's retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise ConnectionError("HF_HUB_OFFLINE is set")
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"{endpoint.hostname} is unreachable: {error.strerror or error}") from None


def _check_fetchable(path: str) -> None:
    """A hub id whose config is not cached needs the hub: say at once when it cannot be reached."""
    from huggingface_hub import try_to_load_from_cache

    if Path(path).expanduser().exists() or isinstance(try_to_load_from_cache(path, "config.json"), str):
        return
    try:
        check_hub_reachable()
    except ConnectionError as error:
        raise ModelLoadError(f"cannot load model {path}: it is not in the local cache and {error}") from None


@contextmanager
def user_errors(path: str):
    """Errors a user can cause, as one line; transformers' per-load 'Loading weights' bar switched off."""
    from transformers.utils import logging as transformers_logging  # here, so that validating a config stays light

    previous = transformers_logging.set_tqdm_hook(lambda factory, args, kwargs: factory(*args, **kwargs, disable=True))
    try:
        _check_fetchable(path)
        yield
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load model {path}: {first_line(error)}") from None
    finally:
        transformers_logging.set_tqdm_hook(previous)


def load_model(reference: str | None, dtype=None, cache_dir: Path | None = None):
    """(model, tokenizer) in eval mode; `dtype` a torch dtype (None: float32)."""
    import torch
    from transformers import AutoTokenizer

    from rac_bench.weights import load_causal_lm

    path = model_path(reference, cache_dir)
    with user_errors(path):
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = load_causal_lm(path, dtype or torch.float32)
    return model, tokenizer


def model_config(reference: str | None):
    """The model's transformers config: a quick check that a model can be loaded, without its weights."""
    gguf = smollm2_gguf() if is_reasoner(reference) else gguf_file(reference)
    if gguf is not None:
        return gguf_config(gguf)
    from transformers import AutoConfig

    path = model_path(reference)
    with user_errors(path):
        return AutoConfig.from_pretrained(path)


def prunable_input_widths(config, ignore: str | None) -> dict[str, int]:
    """The input width of every matrix the pruning engine would prune, by name; the model is built from its config
    on the meta device, which allocates no weights."""
    import torch
    from transformers import AutoModelForCausalLM

    from rac_bench.pruning.layout import prunable_input_widths as widths

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return widths(model, ignore)

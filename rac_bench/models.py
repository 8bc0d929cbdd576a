"""Loading the model under test: the embedded tiny reasoner by default, any local HF directory or hub id."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rac_bench.errors import ModelLoadError

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parent / "zoo" / "tiny-reasoner"
EMBEDDED_MODEL_NAME = "rac-bench/tiny-reasoner"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def model_path(reference: str | None) -> str:
    return str(EMBEDDED_MODEL_DIR) if reference is None else reference


def check_model_reference(reference: str) -> None:
    """Fail early on a path that does not exist; a hub id is only checked when it loads."""
    path = Path(reference).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"model directory {reference} has no config.json; expected a Hugging Face model directory"
            )
        return
    if not _HUB_ID.fullmatch(reference) or reference.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"model {reference!r} is neither an existing directory nor a hub id; accepted: a Hugging Face model "
            "directory or an id like deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
        )


def load_model(reference: str | None, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) in eval mode; errors a user can cause become ModelLoadError."""
    path = model_path(reference)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"cannot load model {path}: {first_line}") from None
    return model.eval(), tokenizer

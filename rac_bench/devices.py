"""Whether this machine has a GPU torch can use, told without importing torch where the answer is sure: flags and
configs are checked before any heavy import (issue 32), and torch's import takes seconds."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


def gpus_available() -> bool:
    """torch.cuda.is_available(), told without importing torch (seconds) when the installed torch is a CPU-only
    build, whose torch/version.py names neither a CUDA nor a HIP version: such a build never sees a GPU."""
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin is not None:
        try:
            version = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
        except OSError:
            version = ""
        if re.search(r"^cuda\b.*= None$", version, re.M) and re.search(r"^hip\b.*= None$", version, re.M):
            return False
    import torch

    return torch.cuda.is_available()

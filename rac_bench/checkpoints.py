"""Pruned checkpoints in a content-addressed directory (cache/checkpoints/<variant fingerprint>/), in the
Hugging Face layout that transformers, lm-eval and vLLM load. Written to a temporary directory and renamed
when complete, so a crash never leaves a half checkpoint behind."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from transformers import AutoModelForCausalLM

REPORT_FILE = "rac_bench_report.json"


def checkpoint_dir(cache_dir: Path, variant_fingerprint: str) -> Path:
    return cache_dir / "checkpoints" / variant_fingerprint


def save_checkpoint(model, tokenizer, directory: Path, report: dict) -> Path:
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
        if directory.exists():  # another run finished the same checkpoint first
            shutil.rmtree(staging)
        else:
            staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_checkpoint(directory: Path, dtype):
    """(model, report) of a complete checkpoint, or None when there is none."""
    report_path = directory / REPORT_FILE
    if not report_path.exists():
        return None
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype).eval()
    return model, json.loads(report_path.read_text(encoding="utf-8"))

"""Pruned checkpoints in a content-addressed directory (cache/checkpoints/<variant fingerprint>/), in the
Hugging Face layout that transformers, lm-eval and vLLM load. Written to a temporary directory and renamed
when complete (and checked: rac_bench.variants), so a crash or a refused label never leaves a checkpoint behind."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rac_bench import strict_json
from rac_bench.files import give_ordinary_permissions

REPORT_FILE = "rac_bench_report.json"


def checkpoint_dir(cache_dir: Path, variant_fingerprint: str) -> Path:
    return cache_dir / "checkpoints" / variant_fingerprint


@contextmanager
def staged_checkpoint(directory: Path, replace: bool = False):
    """A new directory beside `directory` to write the checkpoint into; renamed to `directory` when the block
    finishes, removed when it raises (or when another run finished the same checkpoint first, unless `replace`)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        yield staging
        give_ordinary_permissions(staging)
        if replace and directory.exists():
            shutil.rmtree(directory)
        if directory.exists():
            shutil.rmtree(staging)
        else:
            staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_weights(model, tokenizer, directory: Path) -> None:
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def load_weights(directory: Path, dtype):
    """A saved variant, every tensor present, in its shape and finite (else one line: ModelLoadError)."""
    from rac_bench.weights import load_causal_lm

    return load_causal_lm(directory, dtype)


def write_report(directory: Path, report: dict) -> None:
    (directory / REPORT_FILE).write_text(strict_json.dumps(report, indent=2), encoding="utf-8")


def load_checkpoint(directory: Path, dtype):
    """(model, report) of a complete checkpoint, or None when there is none."""
    report_path = directory / REPORT_FILE
    if not report_path.exists():
        return None
    return load_weights(directory, dtype), json.loads(report_path.read_text(encoding="utf-8"))

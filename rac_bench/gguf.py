"""A GGUF file (llama.cpp's format) as a model under test: `--model model.gguf`, or a directory holding one.

transformers reads GGUF through the `gguf` package and dequantizes the weights, but refuses to save a model it
marked as GGUF-quantized. So the weights are copied into a plain model built from the same config and saved once
as a Hugging Face directory, cached under `<cache>/models/gguf-<content hash>/`: every variant, backend and run
then reads that directory, and a changed file is a new model.
"""

from __future__ import annotations

import copy
import hashlib
import struct
from contextlib import contextmanager
from pathlib import Path

from rac_bench import strict_json
from rac_bench.checkpoints import staged_checkpoint
from rac_bench.errors import ModelLoadError, first_line

SOURCE_FILE = "rac_bench_gguf_source.json"


def gguf_file(reference: str | None) -> Path | None:
    """The GGUF file a model reference names (a .gguf file, or a directory with exactly one and no config.json)."""
    if reference is None:
        return None
    path = Path(reference).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.gguf"))
        if len(found) > 1:
            raise ModelLoadError(
                f"model directory {reference} holds {len(found)} GGUF files ({', '.join(f.name for f in found[:3])}); "
                "give one file as --model"
            )
        return found[0] if found else None
    return None


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def gguf_config(path: Path):
    """The model's transformers config, read from the GGUF metadata alone."""
    from transformers import AutoConfig

    with _readable(path):
        return AutoConfig.from_pretrained(path.parent, gguf_file=path.name)


def converted_directory(path: Path, cache_dir: Path) -> Path:
    """The Hugging Face directory of a GGUF file's dequantized weights and tokenizer, made once per content."""
    digest = content_hash(path)
    directory = Path(cache_dir) / "models" / f"gguf-{digest}"
    if (directory / SOURCE_FILE).exists():
        return directory
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _readable(path):
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)
    config.__dict__.pop("quantization_config", None)  # the weights are dequantized: a plain model, saved as one
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    with staged_checkpoint(directory) as staging:
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        source = {"gguf": str(path.resolve()), "sha256_16": digest, "size": path.stat().st_size}
        (staging / SOURCE_FILE).write_text(strict_json.dumps(source, indent=2), encoding="utf-8")
    return directory


@contextmanager
def _readable(path: Path):
    """transformers' and gguf's errors on a file that is not a loadable GGUF model, as one line."""
    try:
        yield
    except (OSError, ValueError, KeyError, ImportError, RuntimeError, struct.error, EOFError, IndexError) as error:
        hint = " (pip install gguf)" if isinstance(error, ImportError) else ""
        raise ModelLoadError(f"cannot load GGUF model {path}: {first_line(error)}{hint}") from None

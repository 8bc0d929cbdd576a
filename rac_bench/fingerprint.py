"""Content fingerprints: the same inputs give the same short hex id, so caches and cells can be reused."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path


def fingerprint(value) -> str:
    """sha256 of a JSON-serialisable value with sorted keys, shortened to 16 hex digits."""
    payload = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def directory_fingerprint(directory: Path) -> str:
    """sha256 of the names and contents of the files directly in `directory` (weights, config, tokenizer), read once
    per process for the same names, sizes and modification times."""
    files = sorted(path for path in Path(directory).iterdir() if path.is_file())
    return _files_hash(tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files))


@lru_cache(maxsize=None)
def _files_hash(files: tuple) -> str:
    digest = hashlib.sha256()
    for name, _, _ in files:
        digest.update(Path(name).name.encode())
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def weights_fingerprint(model) -> str:
    """sha256 of a torch module's state, each tensor as float32 (`.float()`, so this module needs no torch import)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]

"""The dense model's fingerprint, remembered by its files, so that a rerun finds its cells in the store without
importing torch or loading the model (issue 32: a fully cached rerun answers in under 2 s).

The fingerprint (rac_bench.dense_model.model_fingerprint) hashes the loaded weights, the chat template and the stop
ids. What it is follows from the model directory's files, the dtype they load in, and the code that loads and hashes
them. A record is kept under a key made of all of these: every file's relative name, size, modification time and
inode, the dtype, the versions of torch, transformers, tokenizers and safetensors, and the source of rac-bench's
loading and hashing modules. A change to any of them misses, and the run loads the model as before. Only a local
directory (the embedded model, or `--model DIR`) is remembered: a hub id or a GGUF file is resolved by loading.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rac_bench.errors import DiskFullError
from rac_bench.files import write_atomic
from rac_bench.fingerprint import fingerprint

log = logging.getLogger(__name__)

RECORDS = "dense-fingerprints"
PACKAGE = Path(__file__).resolve().parent
LOADING_CODE = ("dense_model.py", "fingerprint.py", "models.py", "weights.py", "checkpoints.py")
LOADING_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors")


def local_model_directory(reference: str | None) -> Path | None:
    """The directory a reference loads from when it is one on this machine (None: the embedded model)."""
    from rac_bench.models import EMBEDDED_MODEL_DIR, gguf_file, is_reasoner

    if reference is None:
        return EMBEDDED_MODEL_DIR
    if is_reasoner(reference) or gguf_file(reference) is not None:  # loaded from a directory made in the cache
        return None
    directory = Path(reference).expanduser()
    return directory if directory.is_dir() else None


def _record_path(directory: Path, dtype: str, cache_dir: Path) -> Path:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    stats = [(str(path.relative_to(directory)), *_stat(path)) for path in files]
    key = {
        "directory": str(directory.resolve()),
        "files": stats,
        "dtype": dtype,
        "code": {name: hashlib.sha256((PACKAGE / name).read_bytes()).hexdigest() for name in LOADING_CODE},
        "versions": {name: _version(name) for name in LOADING_PACKAGES},
    }
    return Path(cache_dir) / RECORDS / f"{fingerprint(key)}.json"


def _stat(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def remembered(reference: str | None, dtype: str, cache_dir: Path) -> str | None:
    """The fingerprint recorded when these very files were last loaded in `dtype` by this code; None if unknown."""
    directory = local_model_directory(reference)
    if directory is None:
        return None
    try:
        record = json.loads(_record_path(directory, dtype, cache_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = record.get("fingerprint") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def remember(reference: str | None, dtype: str, cache_dir: Path, value: str) -> None:
    """Record a loaded dense model's fingerprint; a cache that cannot be written only costs the next rerun time."""
    directory = local_model_directory(reference)
    if directory is None:
        return
    try:
        path = _record_path(directory, dtype, cache_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"fingerprint": value, "directory": str(directory)}))
    except (OSError, DiskFullError) as error:
        log.debug("dense fingerprint not remembered: %s", error)

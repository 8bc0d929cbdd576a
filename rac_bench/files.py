"""Output files: where they may go, and written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write beside `path`, then rename: readers see the old file or the new one, never half of one."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}-", delete=False, encoding="utf-8"
    ) as f:
        try:
            f.write(text)
        except BaseException:
            os.unlink(f.name)
            raise
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(f.name, 0o666 & ~umask)  # the permissions a plain open() would give, not mkstemp's 0600
        os.replace(f.name, path)
    except BaseException:
        os.unlink(f.name)
        raise


def unwritable_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of `path` (itself when it exists) when that is not a writable directory, else
    None: where a new file or directory at `path` could not be created. Nothing is created."""
    existing = Path(path).resolve()
    while not existing.exists():
        existing = existing.parent
    return None if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK) else existing

"""Output files: where they may go, and written whole or not at all; a full disk is one line."""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

from rac_bench.errors import DiskFullError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full_error(error: OSError, path) -> DiskFullError | None:
    """The one-line error for an OSError that is a full disk or quota while writing `path`; None for others."""
    if error.errno not in DISK_FULL:
        return None
    return DiskFullError(f"no space left to write {path} ({error.strerror}); free space and rerun")


@contextmanager
def disk_full_as_error(path: Path):
    """An OSError for a full disk or quota while writing `path` becomes a DiskFullError naming it."""
    try:
        yield
    except OSError as error:
        full = disk_full_error(error, path)
        if full is None:
            raise
        raise full from None


def write_atomic(path: Path, text: str) -> None:
    """Write beside `path`, then rename: readers see the old file or the new one, never half of one."""
    with disk_full_as_error(path):
        handle = tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}-", delete=False, encoding="utf-8"
        )
        try:
            with handle:
                handle.write(text)
            os.chmod(handle.name, 0o666 & ~current_umask())  # what a plain open() would give, not mkstemp's 0600
            os.replace(handle.name, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(handle.name)
            raise


def current_umask() -> int:
    """The process's umask (reading it means setting it: it is set straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def unwritable_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of `path` (itself when it exists) when that is not a writable directory, else
    None: where a new file or directory at `path` could not be created. Nothing is created."""
    existing = Path(path).resolve()
    while not existing.exists():
        existing = existing.parent
    return None if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK) else existing

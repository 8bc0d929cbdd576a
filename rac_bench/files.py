"""Output files: where they may go, and written whole or not at all; a full disk is one line."""

from __future__ import annotations

import errno
import os
import shutil
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


AT_FDCWD, RENAME_EXCHANGE = -100, 2  # linux/fcntl.h, linux/fs.h


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one step (Linux renameat2 RENAME_EXCHANGE): no moment where either is missing.
    False where the system or filesystem has no such call; the caller then falls back to two renames."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def staging_prefix(path: Path) -> str:
    """The name prefix of a folder staged beside `path` by this process (its pid tells a live writer's from a
    killed one's: see remove_stale_staging)."""
    return f".{path.name}.staging-{os.getpid()}-"


def remove_stale_staging(path: Path) -> None:
    """Remove the staging folders beside `path` left by processes that are gone (a kill between write and swap)."""
    for candidate in path.parent.glob(f".{path.name}.staging-*-*"):
        pid = candidate.name[len(f".{path.name}.staging-") :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(candidate, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


RUN_OUTPUTS = ("samples.jsonl", "summary.json", "leaderboard.md", "lm_eval")  # what rac_bench.outputs writes


def check_run_output_dir(directory: Path) -> None:
    """A run writes into a new or empty directory, or over an earlier run's outputs; never among files of its own
    that it would overwrite or mix with (ConfigError, before any work)."""
    from rac_bench.errors import ConfigError

    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--output-dir {directory} is a file; give a directory")
    if not directory.is_dir():
        return
    foreign = sorted(p.name for p in directory.iterdir() if p.name.lstrip(".").split("-")[0] not in RUN_OUTPUTS)
    if foreign:
        raise ConfigError(
            f"--output-dir {directory} holds files rac-bench did not write ({foreign[0]}"
            f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}); give a new or empty directory, or an "
            "earlier run's output directory to replace"
        )


def give_ordinary_permissions(directory: Path) -> None:
    """The modes plain mkdir and open would give under the umask (mkdtemp makes 0700, some writers 0600): a
    checkpoint is read by other users' and services' processes."""
    umask = current_umask()
    directory.chmod(0o777 & ~umask)
    for path in directory.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)

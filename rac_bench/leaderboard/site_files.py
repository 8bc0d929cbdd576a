"""A static site's directory: what may be replaced (only an earlier site, marked by `.rac-bench-site`) and how it
is replaced (written beside it, then swapped into place in one step, so a reader sees the old site or the new one)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rac_bench.errors import ConfigError
from rac_bench.files import current_umask, disk_full_as_error, exchange, remove_stale_staging, staging_prefix

MARKER = ".rac-bench-site"


def check_site_directory(directory: Path) -> None:
    """Refuse a DIR that holds anything but an earlier site, before any work."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--out {directory} is a file; --format site needs a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MARKER).is_file():
        raise ConfigError(
            f"--out {directory} is a directory that holds no rac-bench site ({MARKER} is missing); give a new or "
            "empty directory, or an earlier site to replace"
        )


def write_site(directory: Path, files: dict[str, str]) -> None:
    """Write every file into a temporary directory beside `directory`, then swap it into place in one step: readers
    see the old site or the new one, never none, and a failure leaves the old one where it was. Staging folders left
    by a killed run are removed first."""
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(directory)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(directory), dir=directory.parent))
    try:
        with disk_full_as_error(directory):
            for relative, text in files.items():
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        staging.chmod(0o777 & ~current_umask())  # what mkdir would give, not mkdtemp's 0700
        if directory.exists() and exchange(staging, directory):
            shutil.rmtree(staging, ignore_errors=True)  # the old site, now in the staging folder
            return
        _swap_by_renames(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_by_renames(staging: Path, directory: Path) -> None:
    """Where the system cannot exchange two directories: two renames, the old site restored on failure."""
    previous = directory.with_name(f"{staging.name}.previous")
    moved_aside = False
    try:
        if directory.exists():
            directory.rename(previous)
            moved_aside = True
        staging.rename(directory)
    except BaseException:
        if moved_aside and not directory.exists():
            previous.rename(directory)
        raise
    if moved_aside:
        shutil.rmtree(previous, ignore_errors=True)

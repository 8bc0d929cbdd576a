"""The store's file as SQLite sees it: connections (read-only where the file or its directory cannot be written),
the header check that refuses a file that is not SQLite, and the one-line errors for a full disk and a damaged
file. rac_bench.store builds the store of record on top."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from rac_bench.errors import DiskFullError, StoreError, first_line
from rac_bench.files import unwritable_ancestor

BUSY_TIMEOUT_SECONDS = 120
NEARLY_FULL_BYTES = 1 << 20  # an SQLite I/O error with less free space than this is a full disk


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, uri=uri)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. Where the store and its directory are writable it is an ordinary one with
    writes refused (its WAL files go when it closes, as a writer's do). Elsewhere the file is opened read-only; a
    WAL store needs a -shm file beside it even to read, so where none can be made (a read-only directory or
    filesystem) it is opened as immutable, which there it is."""
    if os.access(path, os.W_OK) and unwritable_ancestor(path.parent) is None:
        connection = _connect(str(path))
        connection.execute("PRAGMA query_only = ON")
        return connection
    uri = f"{path.resolve().as_uri()}?mode=ro"
    connection = _connect(uri, uri=True)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        connection.close()
        return _connect(f"{uri}&immutable=1", uri=True)


def _raise_if_disk_full(error: sqlite3.Error, path: Path) -> None:
    """SQLite reports a full disk as SQLITE_FULL, or as an I/O error when its WAL index (-shm) cannot grow."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and _free_bytes(path.parent) < NEARLY_FULL_BYTES):
        raise DiskFullError(
            f"the disk holding store {path} is full; the store is intact: free space and rerun to resume"
        ) from None


def _free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite without opening it as a database (which could write to it)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError as error:
        raise StoreError(f"cannot read store {path}: {error.strerror}") from None
    if header != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not an SQLite file; give the path of a rac-bench .sqlite store or a new path")


def damaged(path: Path, problem: str) -> StoreError:
    problem = " ".join(problem.replace("*** in database main ***", "").split())  # quick_check's report is lines
    return StoreError(
        f"store {path} is damaged ({problem}); restore it from a copy, or give a new --store (`sqlite3 {path} "
        "'.recover'` salvages what it can)"
    )


def damaged_store_error(error: sqlite3.DatabaseError, path: Path) -> StoreError | None:
    """The one-line error for damage SQLite found while reading a page (None for other database errors)."""
    if getattr(error, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return damaged(path, first_line(error))
    return None

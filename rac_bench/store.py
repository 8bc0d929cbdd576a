"""The store of record: one SQLite file (WAL mode) that every run writes to, transaction by transaction.

It holds the runs (config and provenance), the generations of unfinished cells in committed chunks (so a
rerun after Ctrl-C, kill -9 or power loss skips every finished chunk and regenerates the rest exactly as
an uninterrupted run would), and the finished cells with their scored per-sample records. Several runs may
write to one store at once: SQLite serialises the writers and WAL lets readers go on meanwhile.

A file that is not a rac-bench store (another SQLite database, or not SQLite at all) is refused before
anything is written to it. Readers (the leaderboard, the gate) open the store read-only, so a store on a
read-only filesystem or directory can be read; and a full disk is one line (DiskFullError), the store intact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from rac_bench import strict_json
from rac_bench.cells import Cell
from rac_bench.errors import StoreError, first_line
from rac_bench.files import unwritable_ancestor
from rac_bench.store_file import (  # noqa: F401 (damaged_store_error: the CLI's)
    _check_header,
    _connect,
    _connect_read_only,
    _raise_if_disk_full,
    damaged,
    damaged_store_error,
)

APPLICATION_ID = 0x52414342  # "RACB" in the SQLite header: tells our stores from other databases
SCHEMA_VERSION = 2  # 1: rac-bench 0.1.0, whose cells were untyped dictionaries
STORE_VARIABLE = "RAC_BENCH_STORE"

SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    command TEXT,
    config TEXT NOT NULL,
    provenance TEXT NOT NULL
);
CREATE TABLE generations (
    cell_key TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    sample_index INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    generation TEXT NOT NULL,
    PRIMARY KEY (cell_key, doc_id, sample_index)
);
CREATE TABLE cells (
    cell_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    model TEXT NOT NULL,
    method TEXT NOT NULL,
    pattern TEXT NOT NULL,
    sparsity REAL NOT NULL,
    task TEXT NOT NULL,
    finished_at REAL NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE samples (
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    doc_id INTEGER NOT NULL,
    sample_index INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (cell_key, doc_id, sample_index)
);
"""


def default_store_path() -> Path:
    return Path(os.environ.get(STORE_VARIABLE, Path("rac-bench-runs") / "results.sqlite"))


class Store:
    """One connection to a store file. Every write is one transaction (BEGIN IMMEDIATE ... COMMIT). A read-only
    store is never created and never written, not even the WAL beside it when the directory is read-only."""

    def __init__(self, path: Path, read_only: bool = False, create: bool = True):
        self.path = Path(path)
        self.read_only = read_only
        if not self.path.exists() and (read_only or not create):
            raise StoreError(f"store {self.path} does not exist; run `rac-bench run` first or give --store")
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"store {self.path} is not a file; give the path of a rac-bench .sqlite store")
        _check_header(self.path)
        if not self.path.exists():
            check_store(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = _connect_read_only(self.path) if read_only else _connect(str(self.path))
            self._open()
        except sqlite3.DatabaseError as error:
            _raise_if_disk_full(error, self.path)
            raise StoreError(f"{self.path} is not a usable rac-bench store ({error})") from None

    def _open(self) -> None:
        db = self.connection
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application_id == 0 and not tables and self.read_only:
            raise StoreError(f"{self.path} is not a rac-bench store (it is empty); run `rac-bench run` or give --store")
        if application_id == 0 and not tables:
            db.execute("PRAGMA journal_mode = WAL")
            with self.transaction():
                # Another process may have created it between our check and our lock.
                if db.execute("PRAGMA application_id").fetchone()[0] == 0:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif application_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path} is an SQLite database but not a rac-bench store; give a new path or a rac-bench store"
            )
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            written_by = " (written by rac-bench 0.1.0)" if version == 1 else ""
            raise StoreError(
                f"store {self.path} has schema version {version}{written_by}; this rac-bench reads version "
                f"{SCHEMA_VERSION}: give a new --store (results are not converted)"
            )
        if not self.read_only:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
            db.execute("PRAGMA foreign_keys = ON")

    @contextmanager
    def transaction(self):
        """One write, all or nothing; a full disk rolls it back and becomes a DiskFullError."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")
        except sqlite3.OperationalError as error:
            _raise_if_disk_full(error, self.path)
            raise

    def close(self) -> None:
        self.connection.close()

    # runs
    def start_run(self, command: str, config: dict, provenance: dict) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, NULL, ?, ?, ?)",
                (run_id, time.time(), command, strict_json.dumps(config), strict_json.dumps(provenance)),
            )
        return run_id

    def finish_run(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (time.time(), run_id))

    # generations of unfinished cells
    def generations(self, cell_key: str) -> dict[tuple[int, int], tuple[str, dict]]:
        rows = self.connection.execute(
            "SELECT doc_id, sample_index, prompt, generation FROM generations WHERE cell_key = ?", (cell_key,)
        )
        return {(doc, index): (prompt, json.loads(generation)) for doc, index, prompt, generation in rows}

    def add_generations(self, cell_key: str, rows: list[tuple[int, int, str, dict]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?)",
                [
                    (cell_key, doc, index, prompt, strict_json.dumps(generation))
                    for doc, index, prompt, generation in rows
                ],
            )

    def generation_log(self, cell_key: str, resume: bool) -> StoredGenerations:
        return StoredGenerations(self, cell_key, resume)

    # finished cells
    def cell(self, cell_key: str) -> Cell | None:
        row = self.connection.execute("SELECT summary FROM cells WHERE cell_key = ?", (cell_key,)).fetchone()
        return self._cell(row[0]) if row else None

    def add_cell(self, cell: Cell, samples: list[dict]) -> None:
        """The cell and its samples in one transaction; its checkpointed generations are no longer needed."""
        identity = cell.identity
        with self.transaction() as db:
            db.execute("DELETE FROM samples WHERE cell_key = ?", (cell.key,))
            db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cell.key,
                    cell.run_id,
                    identity.model,
                    identity.method,
                    identity.pattern,
                    identity.sparsity,
                    identity.task,
                    time.time(),
                    strict_json.dumps(cell.to_dict()),
                ),
            )
            db.executemany(
                "INSERT INTO samples VALUES (?, ?, ?, ?)",
                [(cell.key, s["doc_id"], s["sample_index"], strict_json.dumps(s)) for s in samples],
            )
            db.execute("DELETE FROM generations WHERE cell_key = ?", (cell.key,))

    def reuse_cells(self, keys: list[str]) -> None:
        """Stamp cells that a run took from the store as finished now: the latest cell of an identity is the one the
        latest run used, so reverting a change brings its earlier cell back to the leaderboard and the gate."""
        if keys:
            with self.transaction() as db:
                db.executemany("UPDATE cells SET finished_at = ? WHERE cell_key = ?", [(time.time(), k) for k in keys])

    def delete_cells(self, selector) -> int:
        """Delete every cell (of every run) that `selector` (rac_bench.cells.CellSelector) matches, with its samples
        and checkpointed generations; returns how many."""
        rows = self.connection.execute("SELECT cell_key, summary FROM cells").fetchall()
        keys = [key for key, summary in rows if selector.matches(self._cell(summary).identity)]
        with self.transaction() as db:
            for table in ("samples", "generations", "cells"):
                db.executemany(f"DELETE FROM {table} WHERE cell_key = ?", [(key,) for key in keys])
        return len(keys)

    def samples(self, cell_key: str) -> list[dict]:
        rows = self.connection.execute(
            "SELECT record FROM samples WHERE cell_key = ? ORDER BY doc_id, sample_index", (cell_key,)
        )
        return [json.loads(record) for (record,) in rows]

    def latest_cells(self, models: list[str] | None = None, tasks: list[str] | None = None) -> list[Cell]:
        """For each model, task, method, pattern and sparsity, the cell most recently finished or reused by a run."""
        rows = self.connection.execute(
            "SELECT model, task, method, pattern, sparsity, summary FROM cells ORDER BY finished_at"
        ).fetchall()
        latest = {
            (model, task, method, pattern, sparsity): summary
            for model, task, method, pattern, sparsity, summary in rows
            if (not models or model in models) and (not tasks or task in tasks)
        }
        return [self._cell(summary) for summary in latest.values()]

    def _cell(self, stored: str) -> Cell:
        try:
            return Cell.from_dict(json.loads(stored))
        except (ValueError, KeyError, TypeError) as error:
            raise StoreError(f"store {self.path} holds a cell this rac-bench cannot read ({error})") from None

    def commands(self, run_ids: set[str]) -> list[str]:
        """The commands of the given runs, oldest first: how to reproduce a leaderboard."""
        rows = self.connection.execute("SELECT run_id, command FROM runs ORDER BY started_at").fetchall()
        return list(dict.fromkeys(command for run_id, command in rows if run_id in run_ids and command))

    def examples(self, cell_key: str) -> list[dict]:
        """One wrong and one correct sample of a cell, for readers to see what the model wrote."""
        chosen: dict[bool, dict] = {}
        for sample in self.samples(cell_key):
            chosen.setdefault(bool(sample["correct"]), sample)
            if len(chosen) == 2:
                break
        return [chosen[flag] for flag in (False, True) if flag in chosen]


class StoredGenerations:
    """The GenerationLog of one cell (see backends.lm_adapter): its finished chunks, kept here until the cell
    is finished."""

    def __init__(self, store: Store, cell_key: str, resume: bool):
        self.store, self.cell_key, self.resume = store, cell_key, resume

    def saved(self) -> dict:
        return self.store.generations(self.cell_key) if self.resume else {}

    def save(self, rows: list) -> None:
        self.store.add_generations(self.cell_key, rows)
















def open_store(path: Path | None, read_only: bool = False, create: bool = True) -> Store:
    """`create=False`: a missing store is an error (a command that only changes a store never makes an empty one)."""
    return Store(path if path is not None else default_store_path(), read_only=read_only, create=create)


def finished_keys(path: Path | None, keys: list[str]) -> set[str]:
    """Which of `keys` are finished cells of the store at `path` (none when it does not exist yet)."""
    path = Path(path if path is not None else default_store_path())
    if not path.exists():
        return set()
    store = open_store(path, read_only=True)
    try:
        return {key for key in keys if store.cell(key) is not None}
    finally:
        store.close()


def check_store(path: Path | None) -> None:
    """Fail now, writing nothing, if `path` cannot become or be a rac-bench store (a damaged one included: SQLite
    finds damage only on the page it reads, which may be after the run's first write)."""
    path = Path(path if path is not None else default_store_path())
    if path.exists():
        store = open_store(path, read_only=True)
        try:
            problems = [row[0] for row in store.connection.execute("PRAGMA quick_check(1)")]
        except sqlite3.DatabaseError as error:
            problems = [first_line(error)]
        finally:
            store.close()
        if problems != ["ok"]:
            raise damaged(path, problems[0])
        if not os.access(path, os.W_OK) or unwritable_ancestor(path.parent) is not None:
            raise StoreError(f"store {path} is read-only here; a run needs to write to it: give another --store")
        return
    blocked = unwritable_ancestor(path.parent)
    if blocked is not None:
        raise StoreError(f"cannot create store {path}: {blocked} is not a writable directory")

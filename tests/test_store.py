"""The results store: resume after kill -9, concurrent writers, and refusing files that are not our stores."""

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rac_bench.cli import main
from rac_bench.store import Store

from conftest import make_cell, store_results
from rac_bench.cells import CellIdentity

RUN = [sys.executable, "-m", "rac_bench.cli", "run", "--methods", "sparsegpt", "--sparsity", "0.5", "--limit", "128"]


def _rows(path, table):
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # the run has not created its schema yet
            return 0


def test_a_run_killed_part_way_resumes_to_the_same_results(tmp_path):
    environment = {**os.environ, "RAC_BENCH_CACHE": str(tmp_path / "cache")}
    options = ["--batch-size", "16", "--output-dir"]
    subprocess.run(
        RUN + options + [str(tmp_path / "a"), "--store", str(tmp_path / "a.sqlite")], env=environment, check=True
    )

    store = tmp_path / "b.sqlite"
    command = RUN + options + [str(tmp_path / "b"), "--store", str(store)]
    environment["RAC_BENCH_CACHE"] = str(tmp_path / "cache-b")  # prunes again, from scratch
    victim = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and victim.poll() is None:
        if store.exists() and _rows(store, "generations") >= 2:  # some chunks of a cell are committed
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be interrupted"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    committed = _rows(store, "generations")
    assert _rows(store, "cells") < 2 and committed >= 2

    subprocess.run(command, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells_a, samples_a, _ = store_results(tmp_path / "a.sqlite")
    cells_b, samples_b, resumed = store_results(store)
    assert cells_b == cells_a
    assert samples_b == samples_a
    assert sum(resumed.values()) == committed  # every committed chunk was taken back, not generated again
    assert _rows(store, "generations") == 0  # finished cells no longer need their chunk checkpoints


def _writer(path, run_id: str, worker: int, transactions: int) -> None:
    store = Store(path)
    for index in range(transactions):
        key = f"cell-{worker}-{index}"
        store.add_generations(key, [(doc, 0, f"prompt {doc}", {"text": "x" * 200}) for doc in range(20)])
        cell = make_cell(key, run_id, CellIdentity("m", "t", f"w{worker}", "unstructured", index / 1000))
        store.add_cell(cell, [{"doc_id": doc, "sample_index": 0} for doc in range(20)])
    store.close()


def test_concurrent_writers_do_not_corrupt_the_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    run_id = Store(path).start_run("setup", {}, {})
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, run_id, w, 40)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 4 * 40
        assert db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 4 * 40 * 20
        assert db.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 0


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["text", "foreign-sqlite", "corrupt-sqlite", "empty"])
def test_a_file_that_is_not_our_store_is_refused_and_left_as_it_was(tmp_path, capsys, kind):
    path = tmp_path / "results.sqlite"
    if kind == "text":
        path.write_text("cell,accuracy\nrac,0.9\n")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT)")
            db.execute("INSERT INTO experiments VALUES (1, 'mine')")
        if kind == "corrupt-sqlite":
            data = bytearray(path.read_bytes())
            data[100:] = b"\xff" * (len(data) - 100)
            path.write_bytes(bytes(data))
    before = _digest(path)
    commands = [
        ["leaderboard", "--store", str(path)],
        ["gate", "--baseline", "leaderboards/embedded.json", "--store", str(path)],
    ]
    if kind != "empty":  # an empty file may become a new store; only readers refuse it
        commands.append(["run", "--limit", "5", "--store", str(path)])
    for argv in commands:
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and str(path) in error, error
        assert _digest(path) == before
    assert not (tmp_path / "results.sqlite-wal").exists()


def test_missing_store_and_unwritable_store_directory_are_one_line_errors(tmp_path, capsys):
    assert main(["leaderboard", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "does not exist" in capsys.readouterr().err
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    assert main(["run", "--limit", "5", "--store", str(not_a_directory / "s.sqlite")]) == 2
    assert "not a writable directory" in capsys.readouterr().err


def test_run_exports_cells_in_lm_evals_results_shape(tmp_path):
    from lm_eval.utils import make_table

    assert main(["run", "--methods", "magnitude", "--limit", "20", "--output-dir", str(tmp_path / "out")]) == 0
    document = json.loads((tmp_path / "out" / "lm_eval" / "rac-bench_tiny-reasoner__magnitude-0.5.json").read_text())
    for section in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples", "config"):
        assert "rac_arith" in document[section] or section == "config", section
    assert document["n-samples"]["rac_arith"]["effective"] == 20
    table = make_table(document)  # lm-eval's own reader of its results files
    assert "rac_arith" in table and "accuracy" in table


def test_a_store_written_by_rac_bench_0_1_0_is_refused_with_one_line(tmp_path, capsys):
    """0.1.0 stored cells as untyped dictionaries (schema version 1): they are not guessed at."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE cells (cell_key TEXT PRIMARY KEY)")
        db.execute("PRAGMA application_id = 1380008770")  # "RACB"
        db.execute("PRAGMA user_version = 1")
    before = _digest(path)
    assert main(["leaderboard", "--store", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "schema version 1 (written by rac-bench 0.1.0)" in error, error
    assert "give a new --store" in error and _digest(path) == before

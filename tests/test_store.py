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
from pathlib import Path

import pytest
from conftest import can_mount, make_cell, read_only_to_commands, store_results

from rac_bench.cells import CellIdentity
from rac_bench.cli import main
from rac_bench.store import Store

REPO = Path(__file__).resolve().parents[1]
RUN = [sys.executable, "-m", "rac_bench.cli", "run", "--methods", "sparsegpt", "--sparsity", "0.5", "--limit", "128"]


def _rows(path, table):
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # the run has not created its schema yet
            return 0


def test_a_run_killed_part_way_resumes_to_the_same_results(tmp_path):
    environment = {**os.environ, "RAC_BENCH_CACHE": str(tmp_path / "cache")}
    # --threads: one lane (two lanes write nothing until every variant is evaluated); greedy chunks of 16
    options = ["--batch-size", "16", "--greedy-batch-size", "16", "--threads", "1", "--output-dir"]
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
        ["gate", "--baseline", "leaderboards/embedded.baseline.json", "--store", str(path)],
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
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    magnitude = next(cell for cell in summary["cells"] if cell["identity"]["method"] == "magnitude")
    stderr = document["results"]["rac_arith"]["accuracy_stderr,none"]
    assert stderr == magnitude["results"]["accuracy"]["standard_error"] > 0
    assert "N/A" not in table and f"{stderr:.4f}" in table


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


def _store_with_cells(path, count: int = 2):
    store = Store(path)
    run_id = store.start_run("setup", {}, {})
    for index in range(count):
        identity = CellIdentity("m", "rac_arith", f"method-{index}", "unstructured", 0.5)
        store.add_cell(make_cell(f"cell-{index}", run_id, identity), [{"doc_id": 0, "sample_index": 0}])
    store.close()


def _cli(*arguments, prefix: tuple[str, ...] = ()):
    """rac-bench (or `python -c ...`) as a real process, behind an optional command prefix."""
    command = list(arguments) if arguments[0] == "-c" else ["-m", "rac_bench.cli", *arguments]
    return subprocess.run(
        [*prefix, sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_leaderboard_and_gate_read_a_store_in_a_read_only_directory(tmp_path):
    """A WAL store needs files beside it even to be read; where none can be made it is read as immutable."""
    directory = tmp_path / "read-only"
    directory.mkdir()
    path = directory / "results.sqlite"
    _store_with_cells(path)
    baseline = directory / "baseline.json"
    assert main(["leaderboard", "--store", str(path), "--format", "baseline", "--out", str(baseline)]) == 0
    before = {p.name: _digest(p) for p in directory.iterdir()}
    try:
        prefix = read_only_to_commands(directory)
        probe = _cli("-c", f"open({str(directory / 'x')!r}, 'w')", prefix=prefix)
        assert probe.returncode != 0 and "Error" in probe.stderr  # the directory really is read-only
        leaderboard = _cli("leaderboard", "--store", str(path), prefix=prefix)
        assert leaderboard.returncode == 0, leaderboard.stderr
        assert "method-0" in leaderboard.stdout and "method-1" in leaderboard.stdout
        gate = _cli("gate", "--baseline", str(baseline), "--store", str(path), prefix=prefix)
        assert gate.returncode == 0 and "all 2 checks (2 cells x accuracy) pass" in gate.stdout, (
            gate.stdout + gate.stderr
        )
    finally:
        directory.chmod(0o755)
    assert {p.name: _digest(p) for p in directory.iterdir()} == before


def _on_a_full_disk(mount: Path, before: str, arguments: list[str], after: str = "true"):
    """rac-bench in a private mount namespace where `mount` is a small tmpfs, filled by the shell command `before`
    (so the disk is really full, not simulated); `after` runs there once rac-bench is done, before the tmpfs goes."""
    command = " ".join([sys.executable, "-m", "rac_bench.cli", *arguments])
    script = f"mount -t tmpfs -o size=512k tmpfs {mount} && {before} && {{ {command}; code=$?; {after}; exit $code; }}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _fill(mount: Path) -> str:
    return f"(dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null || true)"


CHECK = (
    "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
    "print(*(db.execute(q).fetchone()[0] for q in ('PRAGMA integrity_check', "
    "'SELECT COUNT(*) FROM cells', 'SELECT COUNT(*) FROM runs')))"
)


@pytest.mark.skipif(not can_mount(), reason="needs to mount a tmpfs (root with CAP_SYS_ADMIN) to fill a real disk")
def test_a_full_disk_is_one_line_and_leaves_the_store_intact_for_a_rerun(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    store = tmp_path / "results.sqlite"
    run = ["run", "--methods", "magnitude", "--limit", "5", "--threads", "1", "--cache-dir", str(tmp_path / "cache")]

    # the output directory is on the full disk: the cells are in the store, the outputs cannot be written
    result = _on_a_full_disk(full, _fill(full), [*run, "--store", str(store), "--output-dir", f"{full}/out"])
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the run's progress log
    assert last.startswith(f"rac-bench: error: no space left to write {full}/out/"), result.stderr
    assert last.endswith("(No space left on device); free space and rerun"), result.stderr
    cells, samples, _ = store_results(store)
    assert len(cells) == 2
    rerun = _cli(*run, "--store", str(store), "--output-dir", str(tmp_path / "out"))
    assert rerun.returncode == 0, rerun.stderr
    assert store_results(store)[:2] == (cells, samples)  # every cell was taken from the store
    assert (tmp_path / "out" / "summary.json").exists()

    # the store is on the full disk: its first write fails, and the store is as it was
    on_disk = full / "results.sqlite"
    result = _on_a_full_disk(
        full,
        f"cp {store} {on_disk} && {_fill(full)}",
        [*run, "--no-resume", "--store", str(on_disk), "--output-dir", str(tmp_path / "out2")],
        after=f'rm {full}/filler && {sys.executable} -c "{CHECK}" {on_disk}',
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"the disk holding store {on_disk} is full" in lines[0], result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok 2 2"  # intact: its cells and two runs, no third run

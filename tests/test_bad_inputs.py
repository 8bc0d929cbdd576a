"""A table of bad inputs to every command (run, prune, traces, leaderboard, gate), one row per class of the 169
cases of issue 17: each must exit 2 with one line on stderr, no traceback, and write nothing (the working
directory's tree, the results store's bytes and the cache are compared before and after).

Most rows run in-process through `rac_bench.cli.main` (seconds each); a few run as real processes to see the
stderr a shell sees (library progress bars and warnings included)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_cell, read_only_to_commands

from rac_bench.cells import CellIdentity
from rac_bench.cli import main

REPO = Path(__file__).resolve().parents[1]
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads recurses once per bracket: RecursionError
NOT_UTF8 = b"\xff\xfe\xfa not UTF-8 \x80\n"
MATH_ROW = {"unique_id": "a/1.json", "problem": "1+1?", "answer": "2"}
GPQA_HEADER = "Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"


def _jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def _data_dir(files: Path, name: str, file_name: str, content) -> str:
    directory = files / name
    directory.mkdir()
    target = directory / file_name
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    return str(directory)


def _write(files: Path, name: str, content) -> str:
    path = files / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return str(path)


def _baseline(copies: int = 1, **cell) -> str:
    record = {
        "model": "rac-bench/tiny-reasoner",
        "task": "rac_arith",
        "method": "dense",
        "pattern": "unstructured",
        "sparsity": 0.0,
        "settings": {},
        "metrics": {"accuracy": {"value": 0.5, "low": 0.4, "high": 0.6}},
        **cell,
    }
    return json.dumps({"format": "rac-bench-baseline/1", "cells": [record] * copies})


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Every bad file the table names, made once."""
    d = tmp_path_factory.mktemp("bad-files")
    trace = {"prompt_ids": [1, 2], "generated_ids": [3, 4]}
    paths = {
        "config_not_utf8": _write(d, "c.yaml", b"methods: [sparsegpt]\n# " + NOT_UTF8),
        "config_data_dir_number": _write(d, "c2.yaml", "data_dir: 5\n"),
        "config_store_list": _write(d, "c3.yaml", "execution: {store: [1, 2]}\n"),
        "config_ignore_number": _write(d, "c4.yaml", "pruning: {ignore: 5}\n"),
        "config_sparsity_mapping": _write(d, "c5.yaml", "sparsity: {a: 1}\n"),
        "trace_not_utf8": _write(d, "t1.jsonl", NOT_UTF8),
        "trace_deep": _write(d, "t2.jsonl", DEEP + "\n"),
        "trace_id_out_of_vocab": _write(d, "t3.jsonl", _jsonl({**trace, "generated_ids": [3, 10**9]})),
        "trace_id_huge": _write(d, "t4.jsonl", _jsonl({**trace, "prompt_ids": [2**70]})),
        "trace_id_negative": _write(d, "t5.jsonl", _jsonl({**trace, "prompt_ids": [-1]})),
        "trace_id_bool": _write(d, "t6.jsonl", _jsonl({**trace, "prompt_ids": [True]})),
        "trace_nan": _write(d, "t7.jsonl", '{"prompt_ids": [NaN], "generated_ids": [1]}\n'),
        "text_not_utf8": _write(d, "corpus.txt", NOT_UTF8 * 100),
        "text_jsonl_not_utf8": _write(d, "corpus.jsonl", NOT_UTF8),
        "text_jsonl_deep": _write(d, "corpus-deep.jsonl", DEEP + "\n"),
        "math_not_utf8": _data_dir(d, "d1", "math500.jsonl", NOT_UTF8),
        "math_deep": _data_dir(d, "d2", "math500.jsonl", DEEP + "\n"),
        "math_infinity": _data_dir(
            d, "d3", "math500.jsonl", '{"unique_id": "1", "problem": "x", "answer": Infinity}\n'
        ),
        "math_1e400": _data_dir(d, "d4", "math500.jsonl", _jsonl({**MATH_ROW, "answer": "x"}).replace('"x"', "1e400")),
        "math_bare_list": _data_dir(d, "d5", "math500.jsonl", _jsonl([1, 2, 3])),
        "math_question_not_text": _data_dir(d, "d6", "math500.jsonl", _jsonl({**MATH_ROW, "problem": [1]})),
        "aime_1e400": _data_dir(d, "d7", "aime2024.jsonl", '{"id": "1", "problem": "x", "answer": 1e400}\n'),
        "amc_bare_list": _data_dir(d, "d8", "amc23.jsonl", _jsonl([1, 2, 3])),
        "gpqa_short_row": _data_dir(d, "d9", "gpqa_diamond.csv", GPQA_HEADER + "rec1,What?,Teal\n"),
        "gpqa_not_utf8": _data_dir(d, "d10", "gpqa_diamond.csv", GPQA_HEADER.encode() + NOT_UTF8),
        "prompts_not_utf8": _data_dir(d, "d11", "openr1_math.jsonl", NOT_UTF8),
        "prompts_deep": _data_dir(d, "d12", "openr1_math.jsonl", DEEP + "\n"),
        "a_file": _write(d, "a-file", "not a directory"),
        "baseline_not_utf8": _write(d, "b1.json", NOT_UTF8),
        "baseline_deep": _write(d, "b2.json", DEEP),
        "baseline_model_number": _write(d, "b3.json", _baseline(model=5)),
        "baseline_sparsity_text": _write(d, "b4.json", _baseline(sparsity="0.5")),
        "baseline_sparsity_bool": _write(d, "b5.json", _baseline(sparsity=True)),
        "baseline_settings_list": _write(d, "b6.json", _baseline(settings=[1])),
        "baseline_metrics_list": _write(d, "b7.json", _baseline(metrics=[1])),
        "baseline_nan": _write(d, "b8.json", _baseline().replace("0.4", "NaN")),
        "baseline_minus_inf": _write(d, "b9.json", _baseline().replace("0.4", "-Infinity")),
        "baseline_1e400": _write(d, "b10.json", _baseline().replace("0.6", "1e400")),
        "baseline_duplicate": _write(d, "b11.json", _baseline(copies=2)),
    }
    return paths


# (class, arguments with {placeholders} from `files`, a fragment of the one line on stderr)
CASES = [
    # run: the config file
    ("run", "run --config {config_not_utf8}", "is not UTF-8"),
    ("run", "run --config {config_data_dir_number}", "data_dir must be non-empty text, got 5"),
    ("run", "run --config {config_store_list}", "execution.store (--store) must be non-empty text"),
    ("run", "run --config {config_ignore_number}", "pruning.ignore (--ignore) must be non-empty text"),
    ("run", "run --config {config_sparsity_mapping}", "sparsity must be a comma list or a list of names, got {'a': 1}"),
    ("run", "run --seed 4294967296", "seed must be a whole number in [0, 4294967295], got '4294967296'"),
    ("run", "run --vllm seed=[", "--vllm 'seed=['"),
    ("run", "run --vllm =1", "OPTION=VALUE"),
    # run: lists that are empty or hold empty items
    ("run", ["run", "--sparsity", ""], "sparsity"),
    ("run", "run --sparsity ,,", "empty item"),
    ("run", ["run", "--tasks", ""], "tasks"),
    ("run", ["run", "--methods", ""], "methods"),
    ("run", ["run", "--pattern", " "], "pattern"),
    # run: --gpus
    ("run", "run --dry-run --gpus nan", "--gpus"),
    ("run", "run --dry-run --gpus inf", "--gpus"),
    ("run", "run --dry-run --gpus -3", "--gpus"),
    ("run", "run --gpus -3", "--gpus"),
    ("run", "run --gpus 2", "--dry-run"),
    # run: calibration files
    ("run", "run --methods sparsegpt@traces:{trace_not_utf8}", "is not UTF-8"),
    ("run", "run --methods sparsegpt@traces:{trace_deep}", "t2.jsonl:1 is not valid JSON"),
    ("run", "run --methods sparsegpt@traces:{trace_id_out_of_vocab}", "token id 1000000000"),
    ("run", "run --methods sparsegpt@traces:{trace_id_huge}", "token id"),
    ("run", "run --methods sparsegpt@traces:{trace_id_negative}", "token id -1"),
    ("run", "run --methods sparsegpt@traces:{trace_id_bool}", "is not a trace record"),
    ("run", "run --methods sparsegpt@traces:{trace_nan}", "is not valid JSON with finite numbers"),
    ("run", "run --methods sparsegpt@text --calibration-text {text_not_utf8}", "is not UTF-8"),
    ("run", "run --methods sparsegpt@text --calibration-text {text_jsonl_not_utf8}", "is not UTF-8"),
    ("run", "run --methods sparsegpt@text --calibration-text {text_jsonl_deep}", "is not valid JSON"),
    ("run", "run --methods sparsegpt --calibration-prompts openr1_math --data-dir {prompts_not_utf8}", "not UTF-8"),
    ("run", "run --methods sparsegpt --calibration-prompts openr1_math --data-dir {prompts_deep}", "is not valid JSON"),
    ("run", "run --methods sparsegpt --calibration-tokens 100000000", "gives only"),
    ("run", "run --methods sparsegpt --calibration-samples 100", "--calibration-samples is gone"),
    # run: task data
    ("run", "run --tasks math500 --data-dir {math_not_utf8}", "is not UTF-8"),
    ("run", "run --tasks math500 --data-dir {math_deep}", "math500.jsonl:1 is not valid JSON"),
    ("run", "run --tasks math500 --data-dir {math_infinity}", "finite numbers"),
    ("run", "run --tasks math500 --data-dir {math_1e400}", "finite numbers"),
    ("run", "run --tasks math500 --data-dir {math_bare_list}", "is not a JSON object"),
    ("run", "run --tasks math500 --data-dir {math_question_not_text}", "field 'problem' is not text"),
    ("run", "run --tasks aime24 --data-dir {aime_1e400}", "finite numbers"),
    ("run", "run --tasks amc23 --data-dir {amc_bare_list}", "is not a JSON object"),
    (
        "run",
        "run --tasks gpqa_diamond --data-dir {gpqa_short_row}",
        "row 1 is malformed: field 'Incorrect Answer 1' is missing",
    ),
    ("run", "run --tasks gpqa_diamond --data-dir {gpqa_not_utf8}", "is not UTF-8"),
    ("run", "run --tasks rac_arith,math500 --data-dir {math_bare_list}", "is not a JSON object"),
    # run: where it writes
    ("run", "run --cache-dir {a_file}", "cannot write to cache directory"),
    ("run", "run --cache-dir {a_file}/sub", "is not a writable directory"),
    # run: patterns a method or the model cannot prune to (the embedded model's layers are 64 and 256 wide)
    ("run", "run --pattern 2:3 --methods sparsegpt", "SparseGPT prunes blocks of 128 columns"),
    ("run", "run --pattern 2:3 --methods rac", "which M=3 does not divide"),
    ("run", "run --pattern 2:3 --methods magnitude --limit 5", "a multiple of 3"),
    ("run", "run --pattern 2:5 --methods wanda", "a multiple of 5"),
    # prune
    ("prune", "prune --method sparsegpt --pattern 2:3 --out {tmp}/ckpt", "SparseGPT prunes blocks"),
    ("prune", "prune --method magnitude --pattern 1:3 --out {tmp}/ckpt", "a multiple of 3"),
    ("prune", "prune --method sparsegpt@traces:{trace_id_out_of_vocab} --out {tmp}/ckpt", "token id 1000000000"),
    ("prune", "prune --method sparsegpt --config {config_not_utf8} --out {tmp}/ckpt", "is not UTF-8"),
    ("prune", "prune --method sparsegpt --cache-dir {a_file} --out {tmp}/ckpt", "cannot write to cache directory"),
    ("prune", "prune --method sparsegpt --seed 4294967296 --out {tmp}/ckpt", "seed"),
    ("prune", "prune --method sparsegpt --out {a_file}", "already exists"),
    # traces
    ("traces", "traces --calibration-tokens 100000000", "gives only"),
    ("traces", "traces --cache-dir {a_file}", "cannot write to cache directory"),
    ("traces", "traces --config {config_not_utf8}", "is not UTF-8"),
    # leaderboard
    ("leaderboard", ["leaderboard", "--format", ""], "format"),
    ("leaderboard", ["leaderboard", "--tasks", ","], "tasks"),
    ("leaderboard", "leaderboard --store {config_not_utf8}", "not an SQLite file"),
    ("leaderboard", "leaderboard --store {files_dir}", "not a file"),
    ("leaderboard", "leaderboard --format markdown,csv", "--out"),
    # gate
    ("gate", "gate --baseline {baseline_not_utf8}", "not JSON"),
    ("gate", "gate --baseline {baseline_deep}", "not JSON"),
    ("gate", "gate --baseline {baseline_model_number}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_sparsity_text}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_sparsity_bool}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_settings_list}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_metrics_list}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_nan}", "not JSON"),
    ("gate", "gate --baseline {baseline_minus_inf}", "not JSON"),
    ("gate", "gate --baseline {baseline_1e400}", "cell 1 is malformed"),
    ("gate", "gate --baseline {baseline_duplicate}", "twice"),
    ("gate", "gate --baseline {files_dir}", "cannot read baseline"),
    ("gate", "gate --baseline leaderboards/embedded.baseline.json --tolerance nan", "--tolerance"),
]


def _arguments(arguments, files: dict, tmp: Path) -> list[str]:
    values = {**files, "tmp": str(tmp), "files_dir": str(Path(files["a_file"]).parent)}
    template = arguments if isinstance(arguments, list) else arguments.split()
    return [part.format(**values) for part in template]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under `root` (the working directory, with the store and the cache in it), with
    a digest of each file's bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        found[relative] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A working directory holding a store with one finished cell and a cache with one file: what a failed
    command must leave exactly as it was."""
    from rac_bench.store import Store

    monkeypatch.chdir(tmp_path)
    for name in ("leaderboards",):
        (tmp_path / name).symlink_to(REPO / name)
    store = Store(Path(os.environ["RAC_BENCH_STORE"]))
    run_id = store.start_run("setup", {}, {})
    store.add_cell(make_cell("k", run_id, CellIdentity("m", "rac_arith", "dense", "unstructured", 0.0)), [])
    store.close()
    cache = Path(os.environ["RAC_BENCH_CACHE"])
    cache.mkdir()
    (cache / "kept").write_text("a cache entry")
    return tmp_path


def _check_one_clean_line(code: int, stderr: str, fragment: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and fragment in lines[0], stderr


@pytest.mark.parametrize("kind, arguments, fragment", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(workspace, files, capsys, kind, arguments, fragment):
    argv = _arguments(arguments, files, workspace)
    before = _snapshot(workspace)
    code = main(argv)
    _check_one_clean_line(code, capsys.readouterr().err, fragment)
    assert _snapshot(workspace) == before


# Real processes: what a shell sees, including anything libraries print (progress bars, retry warnings).
PROCESS_CASES = [
    # an unreachable hub (nothing listens on port 9): one line at once, not a minute of retry warnings
    (
        "run --model nobody-xyz/nothing-abc --tasks rac_arith --limit 5",
        {"HF_ENDPOINT": "http://127.0.0.1:9"},
        "127.0.0.1 is unreachable",
    ),
    (
        "run --model nobody-xyz/nothing-abc --tasks rac_arith --pattern 2:4",
        {"HF_HUB_OFFLINE": "1"},
        "HF_HUB_OFFLINE is set",
    ),
    # after the model has loaded: no 'Loading weights' bar before the error
    ("run --methods sparsegpt@traces:{trace_id_huge} --limit 5", {}, "outside the model's vocabulary"),
    ("run --pattern 2:3 --methods magnitude --limit 5", {}, "a multiple of 3"),
    ("run --config {config_not_utf8}", {}, "is not UTF-8"),
]


@pytest.mark.parametrize("arguments, environment, fragment", PROCESS_CASES, ids=[c[0] for c in PROCESS_CASES])
def test_bad_input_through_the_command_prints_one_line(workspace, files, arguments, environment, fragment):
    before = _snapshot(workspace)
    result = subprocess.run(
        [sys.executable, "-m", "rac_bench.cli", *_arguments(arguments, files, workspace)],
        capture_output=True,
        text=True,
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(REPO), **environment},
        timeout=120,
    )
    _check_one_clean_line(result.returncode, result.stderr, fragment)
    assert _snapshot(workspace) == before


def test_sparsegpt_never_cuts_an_n_m_group_across_two_blocks():
    """The solver chooses N:M groups inside a block of columns: with M=3 and blocks of 128, a group would be cut
    in two (each part losing N weights), so it is refused; with blocks that M divides, every group of M
    consecutive weights holds exactly N zeros."""
    import torch

    from rac_bench.errors import ConfigError
    from rac_bench.pruning.pattern import parse_pattern
    from rac_bench.pruning.sparsegpt import sparsegpt_prune
    from rac_bench.pruning.statistics import InputStatistics

    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 384, generator=generator)
    statistics = InputStatistics(384)
    statistics.add(torch.randn(512, 384, generator=generator))
    target = parse_pattern("2:3", 0.0)
    with pytest.raises(ConfigError, match="which M=3 does not divide"):
        sparsegpt_prune(weight, statistics, target)
    pruned = sparsegpt_prune(weight, statistics, target, block_size=129)
    assert torch.all((pruned == 0).reshape(8, 128, 3).sum(-1) == 2)


def test_a_run_refuses_to_write_in_a_read_only_place_before_any_work(workspace):
    """Read-only to the command (a read-only filesystem for root): a new cache, output directory or store
    there, or an existing store there, is one line before anything is loaded. The four runs share one process
    (started under the read-only view), so each one's line is checked in order."""
    place = workspace / "read-only"
    place.mkdir()
    shutil.copy(os.environ["RAC_BENCH_STORE"], place / "existing.sqlite")
    cases = [
        (["--cache-dir", str(place / "cache")], "cannot write to cache directory"),
        (["--output-dir", str(place / "out")], "cannot write to output directory"),
        (["--store", str(place / "new.sqlite")], "cannot create store"),
        (["--store", str(place / "existing.sqlite")], "is read-only here"),
    ]
    script = "from rac_bench.cli import main\nfor options in %r:\n    print(main(['run', '--limit', '5', *options]))"
    before = _snapshot(workspace)
    try:
        result = subprocess.run(
            [*read_only_to_commands(place), sys.executable, "-c", script % [options for options, _ in cases]],
            capture_output=True,
            text=True,
            cwd=workspace,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=300,
        )
    finally:
        place.chmod(0o755)
    assert result.stdout.split() == ["2"] * len(cases), result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(cases) and "Traceback" not in result.stderr, result.stderr
    assert all(fragment in line for (_, fragment), line in zip(cases, lines)), result.stderr
    assert _snapshot(workspace) == before

"""One table of truth: the leaderboard, the lm-eval export (with lm-eval's own aggregate beside it) and the plain
`lm_eval --include_path tasks` front door give the same accuracy and truncation, under one truncation rule."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from rac_bench.cli import main
from rac_bench.tasks import TASKS_DIR


def test_the_leaderboard_and_the_lm_eval_export_agree_on_every_cell(tmp_path, capsys):
    out, store = tmp_path / "out", tmp_path / "results.sqlite"
    assert (
        main(
            [
                "run",
                "--methods",
                "magnitude,sparsegpt,rac",
                "--limit",
                "60",
                "--output-dir",
                str(out),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["leaderboard", "--store", str(store), "--format", "csv"]) == 0
    rows = {row["method"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    documents = [json.loads(path.read_text()) for path in (out / "lm_eval").glob("*.json")]
    assert len(documents) == len(rows) == 4
    for document in documents:
        row = rows[document["config"]["method"]]
        results = document["results"]["rac_arith"]
        assert results["accuracy,none"] == pytest.approx(float(row["accuracy"]), abs=5e-4)
        assert results["truncated,none"] == pytest.approx(float(row["truncation"]), abs=5e-4)
        # lm-eval's own process_results, scored through the task YAML, is the same number
        assert results["lm_eval_accuracy,none"] == pytest.approx(results["accuracy,none"], abs=1e-12)
        assert results["lm_eval_truncated,none"] == pytest.approx(results["truncated,none"], abs=1e-12)
        assert 0 <= results["accuracy_stderr,none"] < 0.2
        assert (
            results["rac_bench_accuracy_ci_low,none"]
            <= results["accuracy,none"]
            <= results["rac_bench_accuracy_ci_high,none"]
        )
    assert float(rows["rac"]["problems"]) == 60


def test_the_plain_lm_eval_front_door_gives_the_same_accuracy_on_a_pruned_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "magnitude"
    assert main(["prune", "--method", "magnitude", "--sparsity", "0.5", "--out", str(checkpoint)]) == 0
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--methods",
                f"m=checkpoint:{checkpoint}",
                "--limit",
                "40",
                "--batch-size",
                "8",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    cells = {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    ours = cells["m"]["results"]
    result = subprocess.run(
        [sys.executable, "-m", "lm_eval", "run", "--include_path", str(TASKS_DIR), "--tasks", "rac_arith"]
        + ["--model", "hf", "--model_args", f"pretrained={checkpoint},dtype=float32", "--apply_chat_template"]
        + ["--limit", "40", "--batch_size", "8", "--output_path", str(tmp_path / "plain")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [results_file] = list((tmp_path / "plain").rglob("results_*.json"))
    plain = json.loads(results_file.read_text())["results"]["rac_arith"]
    assert 0.1 < ours["accuracy"]["value"] < 0.9  # a pruned model: a comparison that can fail
    # the same greedy answers up to at most one near-tie between the two generation loops
    assert abs(plain["accuracy,none"] - ours["accuracy"]["value"]) <= 1 / 40
    assert abs(plain["truncated,none"] - ours["truncation"]["value"]) <= 1 / 40

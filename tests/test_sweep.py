"""Sweeps over several models, and `--dry-run` plans with their checks."""

import json

from rac_bench.cli import main
from rac_bench.models import EMBEDDED_MODEL_DIR


def test_a_run_sweeps_several_models_into_one_store(tmp_path, capsys):
    second = tmp_path / "magnitude-2of4"
    assert main(["prune", "--method", "magnitude", "--pattern", "2:4", "--out", str(second)]) == 0
    models = f"{EMBEDDED_MODEL_DIR},{second}"
    argv = ["run", "--model", models, "--methods", "magnitude", "--limit", "30", "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    cells = json.loads((tmp_path / "out" / "summary.json").read_text())["cells"]
    assert sorted((c["model"], c["method"]) for c in cells) == sorted(
        (str(model), method) for model in (EMBEDDED_MODEL_DIR, second) for method in ("dense", "magnitude")
    )
    capsys.readouterr()
    assert main(["leaderboard", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 4
    assert main(["prune", "--model", models, "--method", "rac", "--out", str(tmp_path / "x")]) == 2
    assert "one --model" in capsys.readouterr().err

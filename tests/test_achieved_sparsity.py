"""A label is a claim checked against the weights: the achieved sparsity is counted in the saved checkpoint, kept
with every cell and shown in every format, and a variant whose weights fall short of its label never runs."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

from rac_bench.cli import main
from rac_bench.methods import _ORIGINS, _REGISTRY, LayerwiseMethod, MethodOrigin, available_methods


def unchanged(weight, statistics, target):
    return weight.detach().clone()


def global_magnitude(weight, statistics, target):
    """Half of the matrix by magnitude, ignoring any N:M pattern."""
    threshold = weight.abs().flatten().kthvalue(weight.numel() // 2).values
    return weight.masked_fill(weight.abs() <= threshold, 0)


@pytest.fixture
def plugins(monkeypatch):
    available_methods()  # the built-ins load first
    for name, algorithm in (("unchanged", unchanged), ("global-magnitude", global_magnitude)):
        monkeypatch.setitem(_REGISTRY, name, LayerwiseMethod(name, "a test method", algorithm, None))
        monkeypatch.setitem(_ORIGINS, name, MethodOrigin("tests", None, __name__))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--methods", "unchanged"], "unchanged is labelled sparsity 0.5, but its saved weights are 0.000 sparse"),
        (["--methods", "global-magnitude", "--pattern", "2:4"], "global-magnitude is labelled 2:4, but "),
    ],
)
def test_a_variant_that_does_not_meet_its_label_is_refused_with_nothing_written(
    plugins, flags, message, tmp_path, capsys
):
    store, out, cache = tmp_path / "results.sqlite", tmp_path / "out", tmp_path / "cache"
    argv = ["run", *flags, "--limit", "5", "--store", str(store), "--output-dir", str(out), "--cache-dir", str(cache)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and message in error.splitlines()[-1]  # progress bars aside, one line
    assert not store.exists() and not out.exists()
    assert not list(cache.glob("checkpoints/*")) and not list(cache.glob("checkpoints/.*"))


def test_the_achieved_sparsity_is_in_the_report_the_summary_the_store_and_every_format(tmp_path, capsys):
    store, out = tmp_path / "results.sqlite", tmp_path / "out"
    argv = ["run", "--methods", "magnitude", "--sparsity", "0.3", "--limit", "10", "--store", str(store)]
    assert main([*argv, "--output-dir", str(out)]) == 0
    cells = {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    achieved = cells["magnitude"]["achieved_sparsity"]
    assert achieved["prunable"] == pytest.approx(0.3, abs=1e-3) and 0 < achieved["decoder"] < achieved["prunable"]
    assert cells["magnitude"]["pruning"]["achieved_sparsity"] == achieved
    assert cells["dense"]["achieved_sparsity"]["prunable"] == 0.0
    from safetensors import safe_open

    checkpoint = cells["magnitude"]["checkpoint"]
    with safe_open(f"{checkpoint}/model.safetensors", "pt") as file:
        linear = [file.get_tensor(k) for k in file.keys() if ".layers." in k and k.endswith("proj.weight")]
    counted = sum(int((t == 0).sum()) for t in linear) / sum(t.numel() for t in linear)
    assert counted == pytest.approx(achieved["prunable"], abs=1e-9)
    capsys.readouterr()
    for fmt in ("terminal", "markdown", "latex", "html"):
        assert main(["leaderboard", "--store", str(store), "--format", fmt]) == 0
        assert "zeros" in capsys.readouterr().out, fmt  # the header of the `achieved` column
    assert main(["leaderboard", "--store", str(store), "--format", "csv"]) == 0
    rows = {row["method"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert float(rows["magnitude"]["achieved"]) == pytest.approx(0.3, abs=1e-3)
    assert main(["leaderboard", "--store", str(store), "--format", "baseline"]) == 0
    document = json.loads(capsys.readouterr().out)
    by_method = {cell["method"]: cell for cell in document["cells"]}
    assert by_method["magnitude"]["achieved_sparsity"] == achieved


def test_n_m_violations_are_counted_per_group():
    from rac_bench.pruning.achieved import _n_m_violations
    from rac_bench.pruning.pattern import parse_pattern

    matrix = torch.ones(2, 8)
    matrix[0, [0, 1, 4, 5]] = 0  # row 0 meets 2:4 in both groups
    matrix[1, [0]] = 0  # row 1: one zero in its first group, none in its second
    assert _n_m_violations(matrix, parse_pattern("2:4", 0.0)) == 2

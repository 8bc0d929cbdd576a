"""A compression method from its own package (tests/example_method_package) registers through the
`rac_bench.methods` entry-point group and gets leaderboard rows with no change to rac-bench; its code is part of
its fingerprint, so an edited plugin is pruned again and a broken one fails the gate; a plugin that cannot load,
reuses a name or crashes is one line with its own exit code."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent / "example_method_package"


def install(source: Path, site: Path) -> None:
    """pip install --target, as an upgrade: a target directory keeps an older version's metadata beside the new."""
    shutil.rmtree(site, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), str(source)],
        check=True,
    )


def command(site: Path, store: Path):
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "RAC_BENCH_STORE": str(store),
    }

    def rac_bench(*argv, expect=0):
        result = subprocess.run(
            [sys.executable, "-m", "rac_bench.cli", *argv], env=environment, capture_output=True, text=True
        )
        assert result.returncode == expect, result.stderr
        return result

    return rac_bench


def test_an_installed_plugin_method_is_run_and_ranked(tmp_path):
    site = tmp_path / "site"
    install(PACKAGE, site)
    rac_bench = command(site, tmp_path / "results.sqlite")
    listed = rac_bench("methods").stdout
    assert "random" in listed and "(plugin: rac-bench-random 0.1.0)" in listed
    rac_bench("run", "--methods", "random,magnitude", "--limit", "100", "--output-dir", str(tmp_path / "out"))
    rows = csv.DictReader(io.StringIO(rac_bench("leaderboard", "--format", "csv").stdout))
    accuracy = {row["method"]: float(row["accuracy"]) for row in rows}
    assert set(accuracy) == {"dense", "random", "magnitude"}
    # ranked: a random mask is the floor that magnitude pruning beats
    assert accuracy["random"] < accuracy["magnitude"] < accuracy["dense"]
    # its description and package, recorded when it ran, in the formats that describe methods
    markdown = rac_bench("leaderboard", "--format", "markdown").stdout
    assert "- `random`: uniformly random mask; no calibration (entry-point example); rac-bench-random 0.1.0" in markdown
    table = json.loads(rac_bench("leaderboard", "--format", "json").stdout)
    assert table["methods"]["random"]["distribution"] == "rac-bench-random"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    [plugin] = summary["provenance"]["plugins"]
    assert plugin["distribution"] == "rac-bench-random" and plugin["version"] == "0.1.0"
    assert "rac-bench-random==0.1.0" in summary["provenance"]["installed_packages"]
    assert (
        "random"
        not in subprocess.run([sys.executable, "-m", "rac_bench.cli", "methods"], capture_output=True, text=True).stdout
    )  # installed into the test's own directory only


def edited(source: Path, replacement: str | None = None, version: str | None = None) -> None:
    module = source / "rac_bench_random" / "__init__.py"
    if replacement is not None:
        text = re.sub(r"    scores = .*\n", f"    scores = {replacement}\n", module.read_text())
        module.write_text(text)
    if version is not None:
        project = source / "pyproject.toml"
        project.write_text(re.sub(r'version = ".*"', f'version = "{version}"', project.read_text()))


def test_an_edited_plugin_is_pruned_again_and_the_gate_fails_a_broken_one(tmp_path):
    """Same method name, same package version, the usual cache and store: only the plugin's code changed."""
    source, site, cache = tmp_path / "plugin", tmp_path / "site", tmp_path / "cache"
    shutil.copytree(PACKAGE, source)
    run = ["run", "--methods", "random", "--limit", "60", "--cache-dir", str(cache)]

    edited(source, "weight.abs()")  # magnitude scores: a sound method
    install(source, site)
    good = command(site, tmp_path / "good.sqlite")
    good(*run, "--output-dir", str(tmp_path / "good"))
    baseline = tmp_path / "baseline.json"
    good("leaderboard", "--format", "baseline", "--out", str(baseline))
    assert len(list((cache / "checkpoints").iterdir())) == 1
    again = good(*run, "--output-dir", str(tmp_path / "again"))  # nothing changed: taken from the store
    assert "random 0.5: every cell is in the store; skipped" in again.stderr

    edited(source, "-weight.abs()")  # prunes the largest weights: broken
    install(source, site)
    broken = command(site, tmp_path / "good.sqlite")  # the same command, the same store
    rerun = broken(*run, "--output-dir", str(tmp_path / "broken"))
    assert "random 0.5: every cell" not in rerun.stderr  # evaluated again (dense alone is taken from the store)
    assert len(list((cache / "checkpoints").iterdir())) == 2  # pruned again, not reused
    gate = broken("gate", "--baseline", str(baseline), expect=1)
    assert "REGRESSED" in gate.stdout

    edited(source, version="0.1.1")  # the same code under a new version is another method
    install(source, site)
    command(site, tmp_path / "bumped.sqlite")(*run, "--output-dir", str(tmp_path / "bumped"))
    assert len(list((cache / "checkpoints").iterdir())) == 3


FAULTY = """
import torch
from rac_bench.methods import LayerwiseMethod


def crash(weight, statistics, target):
    raise RuntimeError("the solver diverged")


CRASH = LayerwiseMethod("crash", "raises on the first matrix", crash, None)
WANDA = LayerwiseMethod("wanda", "reuses a built-in's name", crash, None)
"""
FAULTY_PROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rac-bench-faulty"
version = "0.3.0"
dependencies = ["rac-bench"]

[project.entry-points."rac_bench.methods"]
crash = "rac_bench_faulty:CRASH"
wanda = "rac_bench_faulty:WANDA"
missing = "rac_bench_faulty:NOT_THERE"

[tool.setuptools]
packages = ["rac_bench_faulty"]
"""


def test_plugins_that_cannot_load_reuse_a_name_or_crash_are_one_line_each(tmp_path):
    source, site = tmp_path / "faulty", tmp_path / "site"
    (source / "rac_bench_faulty").mkdir(parents=True)
    (source / "rac_bench_faulty" / "__init__.py").write_text(FAULTY)
    (source / "pyproject.toml").write_text(FAULTY_PROJECT)
    install(source, site)
    rac_bench = command(site, tmp_path / "results.sqlite")
    listed = rac_bench("methods")
    assert "crash" in listed.stdout and "wanda        Wanda" in listed.stdout  # the built-in keeps its name
    warnings = listed.stderr.strip().splitlines()
    assert len(warnings) == 2 and all("rac-bench-faulty 0.3.0" in line for line in warnings)
    assert any("'wanda', which rac-bench already has" in line for line in warnings)
    missing = rac_bench("run", "--methods", "missing", "--limit", "5", expect=2).stderr.strip().splitlines()
    assert "failed to load method 'missing'" in missing[-1] and "rac-bench-faulty" in missing[-1]
    crashed = rac_bench("run", "--methods", "crash", "--limit", "5", expect=3).stderr
    assert "Traceback" not in crashed
    assert crashed.strip().splitlines()[-1] == (
        "rac-bench: error: method crash failed on layers.0.self_attn.q_proj: RuntimeError: the solver diverged"
    )


def test_the_guides_worked_example_installs_and_prunes(tmp_path):
    """docs/methods.md's RIA example, as a reader would package it."""
    guide = (Path(__file__).parents[1] / "docs" / "methods.md").read_text()
    code = re.search(r"```python\n(.*?)```", guide, flags=re.S)[1]
    entry_point = re.search(r'\[project\.entry-points\."rac_bench\.methods"\]\n(.*)\n', guide)[1]
    source = tmp_path / "rac-bench-ria"
    (source / "rac_bench_ria").mkdir(parents=True)
    (source / "rac_bench_ria" / "__init__.py").write_text(code)
    project = FAULTY_PROJECT.replace("rac-bench-faulty", "rac-bench-ria").replace('"0.3.0"', '"0.1.0"')
    project = re.sub(
        r'(\[project\.entry-points\."rac_bench\.methods"\]\n).*?\n\n', rf"\1{entry_point}\n\n", project, flags=re.S
    )
    (source / "pyproject.toml").write_text(project.replace("rac_bench_faulty", "rac_bench_ria"))
    install(source, tmp_path / "site")
    rac_bench = command(tmp_path / "site", tmp_path / "results.sqlite")
    assert "(plugin: rac-bench-ria 0.1.0)" in rac_bench("methods").stdout
    out = tmp_path / "pruned"
    rac_bench("prune", "--method", "ria@traces", "--calibration-tokens", "2048", "--out", str(out))
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["achieved_sparsity"]["prunable"] == 0.5 and report["calibration"]["generated_tokens"] > 0


HOSTILE = """
import sys

import torch

from rac_bench.methods import LayerwiseMethod
from rac_bench.pruning.pattern import lowest_score_mask


def magnitude(weight, statistics, target):
    return weight.masked_fill(lowest_score_mask(weight.abs(), target), 0)


def exits(weight, statistics, target):
    sys.exit(0)


def scalar(weight, statistics, target):
    return torch.tensor(0.0)


def one_row(weight, statistics, target):
    return magnitude(weight, statistics, target)[:1]


def not_a_number(weight, statistics, target):
    pruned = magnitude(weight, statistics, target)
    pruned[0, -1] = float("nan")
    return pruned


def refuses(target):
    raise ValueError("hostile prunes nothing at " + target.label)


MAGNITUDE = LayerwiseMethod("magnitude2", "magnitude, once more", magnitude, None)


class Retemplates:
    name, description, calibration_source = "retemplate", "changes the tokenizer it is given", None

    def prune(self, model, context):
        context.tokenizer.chat_template = "{{ 'nothing to see' }}"
        return MAGNITUDE.prune(model, context)


class ReachesDense:
    name, description, calibration_source = "reach", "changes the dense model's own tokenizer", None

    def prune(self, model, context):
        context.calibration.inputs.tokenizer.chat_template = "{{ 'nothing to see' }}"
        return MAGNITUDE.prune(model, context)


EXITS = LayerwiseMethod("exits", "calls sys.exit", exits, None)
SCALAR = LayerwiseMethod("scalar", "returns a scalar", scalar, None)
ONE_ROW = LayerwiseMethod("onerow", "returns one row", one_row, None)
NAN = LayerwiseMethod("nan", "returns a NaN", not_a_number, None)
REFUSES = LayerwiseMethod("refuses", "check_target raises ValueError", magnitude, None, check_target=refuses)
CRASHES = LayerwiseMethod("crashes", "check_target divides by zero", magnitude, None, check_target=lambda t: 1 / 0)
RETEMPLATE, REACH = Retemplates(), ReachesDense()
"""
HOSTILE_ENTRY_POINTS = {
    "exits": "EXITS",
    "scalar": "SCALAR",
    "onerow": "ONE_ROW",
    "nan": "NAN",
    "refuses": "REFUSES",
    "crashes": "CRASHES",
    "retemplate": "RETEMPLATE",
    "reach": "REACH",
    "random": "MAGNITUDE",  # the example plugin's name, installed beside it
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The example plugin and a hostile one (a copy of it with other code) in one site: (rac_bench, tmp)."""
    tmp = tmp_path_factory.mktemp("hostile")
    source, site = tmp / "hostile", tmp / "site"
    shutil.copytree(PACKAGE, source)
    shutil.rmtree(source / "rac_bench_random")
    (source / "rac_bench_hostile").mkdir()
    (source / "rac_bench_hostile" / "__init__.py").write_text(HOSTILE)
    project = (source / "pyproject.toml").read_text().replace("rac-bench-random", "rac-bench-hostile")
    entry_points = "".join(f'{name} = "rac_bench_hostile:{value}"\n' for name, value in HOSTILE_ENTRY_POINTS.items())
    project = re.sub(r"random = .*\n", entry_points, project).replace("rac_bench_random", "rac_bench_hostile")
    (source / "pyproject.toml").write_text(project)
    install(source, site)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), "--upgrade", str(PACKAGE)],
        check=True,
    )
    return site, tmp


HOSTILE_RUNS = [
    # defect 6: sys.exit(0) in a plugin made `run` exit 0 with nothing printed
    ("exits", 3, "method exits called sys.exit(0) while pruning"),
    # defect 5: a scalar was broadcast over the matrix by copy_; one row was copied into every row
    ("scalar", 3, "method scalar failed on layers.0.self_attn.q_proj: ValueError: returned () for a (64, 64)"),
    ("onerow", 3, "method onerow failed on layers.0.self_attn.q_proj: ValueError: returned (1, 64) for a (64, 64)"),
    # defect 8: NaN weights were evaluated and stored
    ("nan", 2, "method nan: tensor model.layers.0.self_attn.q_proj.weight holds NaN or inf values"),
    # defect 10: a check_target raising ValueError was a traceback
    ("refuses", 2, "method refuses cannot meet 0.5: hostile prunes nothing at 0.5"),
    ("crashes", 3, "method crashes failed checking 0.5: ZeroDivisionError: division by zero"),
    # defect 4: a method that reaches the dense model's own tokenizer
    ("reach", 3, "the dense model rac-bench/tiny-reasoner or its tokenizer changed after it was loaded"),
    # defect 7: two plugins registering one name; run used whichever loaded first
    ("random", 2, "registers method 'random', which"),
]


@pytest.mark.parametrize("method, code, line", HOSTILE_RUNS, ids=[c[0] for c in HOSTILE_RUNS])
def test_a_hostile_plugin_is_one_line_with_its_exit_code_and_writes_nothing(hostile, method, code, line):
    site, tmp = hostile
    store, output = tmp / f"{method}.sqlite", tmp / f"{method}-out"
    rac_bench = command(site, store)
    result = rac_bench("run", "--methods", method, "--limit", "4", "--output-dir", str(output), expect=code)
    lines = [text for text in result.stderr.strip().splitlines() if "warning:" not in text]
    assert "Traceback" not in result.stderr and line in lines[-1], result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("rac-bench: error:")
    assert not store.exists() and not output.exists()


def test_a_method_that_changes_its_tokenizer_leaves_the_dense_row_alone(hostile):
    """Defect 4: the tokenizer a method got was dense's own, and dense was evaluated after pruning: a method setting
    its chat template turned dense from 1.000 into 0.000 in the store, for every later run to reuse."""
    site, tmp = hostile
    plain, changed = command(site, tmp / "plain.sqlite"), command(site, tmp / "changed.sqlite")
    plain("run", "--methods", "magnitude", "--limit", "4", "--output-dir", str(tmp / "plain"))
    changed("run", "--methods", "retemplate", "--limit", "4", "--output-dir", str(tmp / "changed"))
    rows = {}
    for name, rac_bench in (("plain", plain), ("changed", changed)):
        cells = json.loads(rac_bench("leaderboard", "--format", "json").stdout)["cells"]
        rows[name] = {cell["method"]: cell["values"]["accuracy"]["value"] for cell in cells}
    assert rows["changed"]["dense"] == rows["plain"]["dense"] == 1.0


SPLIT_METHOD = """
from importlib.resources import files

from rac_bench.methods import LayerwiseMethod
from rac_bench_random.scoring import scores
from rac_bench.pruning.pattern import lowest_score_mask

SCALE = float(files("rac_bench_random").joinpath("scale.txt").read_text())


def prune(weight, statistics, target):
    return weight.masked_fill(lowest_score_mask(SCALE * scores(weight), target), 0)


METHOD = LayerwiseMethod("random", "magnitude, scored in another module", prune, None)
"""


def test_every_file_of_the_plugins_distribution_is_part_of_its_fingerprint(tmp_path):
    """Defect 2: with the entry point `pkg.method:METHOD`, an edit to `pkg/scoring.py` (which method.py imports) or
    to a data file the method reads left the fingerprint, the checkpoint and the cell as they were."""
    source, site = tmp_path / "plugin", tmp_path / "site"
    shutil.copytree(PACKAGE, source)
    package = source / "rac_bench_random"
    (package / "method.py").write_text(SPLIT_METHOD)
    (package / "scoring.py").write_text("def scores(weight):\n    return weight.abs()\n")
    (package / "scale.txt").write_text("1.0\n")
    project = source / "pyproject.toml"
    text = project.read_text().replace('"rac_bench_random:METHOD"', '"rac_bench_random.method:METHOD"')
    project.write_text(text + '\n[tool.setuptools.package-data]\nrac_bench_random = ["*.txt"]\n')
    script = "from rac_bench.methods.code import method_code; print(method_code('random', False)['method']['source'])"

    def fingerprint() -> str:
        install(source, site)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).parents[1])])}
        result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    first = fingerprint()
    assert fingerprint() == first  # reinstalling the same files changes nothing
    (package / "scoring.py").write_text("def scores(weight):\n    return -weight.abs()\n")
    second = fingerprint()
    (package / "scale.txt").write_text("2.0\n")
    third = fingerprint()
    assert len({first, second, third}) == 3

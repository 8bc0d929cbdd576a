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

"""Leaderboards rendered from a real run's store, the HTML page in a real headless browser, and the gate."""

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess

import numpy
import pytest

from rac_bench.cli import main
from rac_bench.leaderboard.text import latex_escape
from tests.browser import chromium_command, chromium_path

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """dense, magnitude and rac at 0.5 on 60 problems, with one response replaced by hostile markup."""
    directory = tmp_path_factory.mktemp("leaderboard")
    path = directory / "results.sqlite"
    previous = os.environ.get("RAC_BENCH_CACHE")
    os.environ["RAC_BENCH_CACHE"] = str(directory / "cache")
    try:
        argv = ["run", "--methods", "magnitude,rac", "--limit", "60", "--store", str(path)]
        assert main(argv + ["--output-dir", str(directory / "out")]) == 0
    finally:
        os.environ.pop("RAC_BENCH_CACHE") if previous is None else os.environ.update(RAC_BENCH_CACHE=previous)
    with sqlite3.connect(path) as db:
        key, record = db.execute(
            "SELECT cell_key, record FROM samples WHERE json_extract(record, '$.correct') = 0"
        ).fetchone()
        record = json.loads(record)
        db.execute(
            "UPDATE samples SET record = ? WHERE cell_key = ? AND doc_id = ? AND sample_index = ?",
            (json.dumps({**record, "response": HOSTILE}), key, record["doc_id"], record["sample_index"]),
        )
    return path


def render(store, capsys, fmt) -> str:
    assert main(["leaderboard", "--store", str(store), "--format", fmt]) == 0
    return capsys.readouterr().out


def test_text_formats_show_every_cell_with_intervals_deltas_and_best_marks(store, capsys):
    terminal = render(store, capsys, "terminal")
    # dense, then the budget group (unstructured 0.5) by rank: rac is far more accurate than magnitude here
    assert [line.split()[1] for line in terminal.splitlines()[2:5]] == ["dense", "rac", "magnitude"]
    assert re.search(r"rac\s+0\.5\s+0\.500\s+32\s+60\s+0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \*\s+-0\.\d{3} \[", terminal)
    markdown = render(store, capsys, "markdown")
    assert "| **0." in markdown and "Δ vs dense" in markdown
    latex = render(store, capsys, "latex")
    assert r"rac\_arith" in latex and r"$\mathbf{" in latex and r"$\Delta$" in latex
    rows = list(csv.DictReader(io.StringIO(render(store, capsys, "csv"))))
    by_method = {row["method"]: row for row in rows}
    assert set(by_method) == {"dense", "magnitude", "rac"}
    rac, magnitude = by_method["rac"], by_method["magnitude"]
    assert float(rac["accuracy_low"]) <= float(rac["accuracy"]) <= float(rac["accuracy_high"])
    best = rac if float(rac["accuracy"]) >= float(magnitude["accuracy"]) else magnitude
    assert best["accuracy_is_best"] == "1" and by_method["dense"]["accuracy_is_best"] == "0"
    assert by_method["dense"]["delta_vs_dense"] == ""


def test_no_entry_is_best_when_every_candidate_ties(store):
    """Rows tied at the bottom (all at 0.000, say) are not "best"; a tie at the top among others is."""
    from dataclasses import replace

    from rac_bench.cells import CellResults
    from rac_bench.leaderboard.rows import column_named, leaderboard_rows
    from rac_bench.metrics import Estimate
    from rac_bench.store import open_store

    opened = open_store(store, read_only=True)
    cells = opened.latest_cells()
    opened.close()
    zero = Estimate(0.0, 0.0, 0.006, 0.0)
    tied = [replace(c, results=CellResults({**c.results, "accuracy": zero})) if not c.identity.is_dense else c for c in cells]
    column = [column_named("accuracy")]
    assert not any(entry.best for row in leaderboard_rows(tied, column) for entry in row)
    assert sum(entry.best for row in leaderboard_rows(cells, column) for entry in row) == 1


def test_latex_escaping_covers_special_characters():
    assert latex_escape("a_b & 50% {x} #1 $") == r"a\_b \& 50\% \{x\} \#1 \$"


def test_markdown_shows_a_plugins_description_as_text():
    """Issue 32, defect 15: the Markdown leaderboard printed a plugin's description as raw HTML."""
    from dataclasses import replace

    from conftest import make_cell

    from rac_bench.cells import CellIdentity
    from rac_bench.leaderboard.text import render_text

    recorded = {
        "description": '<script>alert("x")</script> <img src=x onerror=alert(1)> [click](javascript:alert(2)) *a*',
        "distribution": "<b>evil</b>",
        "version": "1.0",
    }
    cells = [
        replace(
            make_cell(f"k{i}", "r", CellIdentity("m", "rac_arith", method, "unstructured", sparsity)),
            provenance={"methods": {"evil": recorded}},
        )
        for i, (method, sparsity) in enumerate((("dense", 0.0), ("evil", 0.5)))
    ]
    methods = render_text(cells, "markdown").split("Methods:")[1]
    assert "<script" not in methods and "<img" not in methods and "<b>" not in methods
    assert not re.search(r"(?<!\\)\]\(", methods)  # no link: its bracket is escaped
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in methods and "\\[click\\]" in methods and "\\*a\\*" in methods


def test_html_escapes_model_output(store, capsys):
    page = render(store, capsys, "html")
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page


def test_html_page_renders_in_a_real_browser(store, tmp_path):
    from PIL import Image

    browser = chromium_path()
    page = tmp_path / "leaderboard.html"
    assert main(["leaderboard", "--store", str(store), "--format", "html", "--out", str(page)]) == 0
    command = chromium_command(browser, tmp_path / "profile")
    # sort by accuracy, descending, through the page's own script
    dom = subprocess.run(
        command + ["--virtual-time-budget=5000", "--dump-dom", f"{page.as_uri()}#sort=accuracy-desc"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-ready="1"' in dom  # the script ran
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)  # the hostile response did not
    keys = re.findall(r'<th scope="col"[^>]*data-key="([^"]+)"', dom)
    body = dom.split("<tbody>")[1].split("</tbody>")[0]
    rows = [re.findall(r'data-sort="([^"]*)"', row) for row in re.findall(r"<tr.*?</tr>", body)]
    accuracies = [float(row[keys.index("accuracy")]) for row in rows]
    assert len(accuracies) == 3 and accuracies == sorted(accuracies, reverse=True)
    # accuracy and thinking vs sparsity, accuracy vs thinking, thinking per response (boxes), accuracy vs latency
    assert dom.count('<svg class="chart"') == 5 and dom.count("<circle") >= 4 * 2 and dom.count('class="box"') == 3

    screenshot = tmp_path / "leaderboard.png"
    subprocess.run(
        command + ["--window-size=1400,1400", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1400, 1400)
    pixels = numpy.asarray(image).reshape(-1, 3).astype(int)
    assert (pixels != 255).any(axis=1).mean() > 0.02  # not a blank page
    # the charts' series colours (magnitude's darkened orange, rac's vermillion) are on screen: the plots were drawn
    for colour in ((0xB0, 0x73, 0x00), (0xD5, 0x5E, 0x00)):
        assert (numpy.abs(pixels - numpy.array(colour)).max(axis=1) < 30).sum() > 50, colour


def _baseline(store, capsys, tmp_path):
    path = tmp_path / "baseline.json"
    assert main(["leaderboard", "--store", str(store), "--format", "baseline", "--out", str(path)]) == 0
    capsys.readouterr()
    return path


def test_cells_on_other_problem_sets_are_their_own_group_with_their_own_dense(store, tmp_path, monkeypatch):
    """A --limit 30 run of dense and magnitude into a store of 60-problem cells: a cell is the latest of its model,
    task, method and sparsity, so the table holds dense and magnitude on 30 problems beside rac on 60, each problem
    set its own group with its problems shown, Δ paired with the dense cell of the same problems, no best across
    groups."""
    mixed = tmp_path / "mixed.sqlite"
    shutil.copy(store, mixed)
    monkeypatch.setenv("RAC_BENCH_CACHE", str(tmp_path / "cache"))
    argv = ["run", "--methods", "magnitude", "--limit", "30", "--store", str(mixed)]
    argv += ["--output-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    out = tmp_path / "table.csv"
    assert main(["leaderboard", "--store", str(mixed), "--format", "csv", "--out", str(out)]) == 0
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["problems"], r["method"]) for r in table] == [("30", "dense"), ("30", "magnitude"), ("60", "rac")]
    delta = float(table[1]["accuracy"]) - float(table[0]["accuracy"])
    assert float(table[1]["delta_vs_dense"]) == pytest.approx(delta)
    assert table[1]["accuracy_is_best"] == table[2]["accuracy_is_best"] == "0"  # each alone in its problem set


def test_gate_passes_a_run_against_its_own_baseline(store, capsys, tmp_path):
    baseline = _baseline(store, capsys, tmp_path)
    assert main(["gate", "--baseline", str(baseline), "--store", str(store)]) == 0
    assert "all 3 checks (3 cells x accuracy) pass" in capsys.readouterr().out


def test_gate_fails_a_real_regression_and_a_tolerance_can_allow_it(store, capsys, tmp_path):
    baseline = _baseline(store, capsys, tmp_path)
    worse = tmp_path / "worse.sqlite"
    shutil.copy(store, worse)
    # RAC calibrated on 60 tokens (less than one trace) instead of the default budget: a change that breaks pruning
    # quality
    argv = ["run", "--methods", "magnitude,rac", "--limit", "60", "--calibration-tokens", "60"]
    assert main(argv + ["--store", str(worse), "--output-dir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["gate", "--baseline", str(baseline), "--store", str(worse)]) == 1
    report = capsys.readouterr().out
    assert re.search(r"rac 0\.5 on rac_arith.*REGRESSED", report)
    assert re.search(r"magnitude 0\.5 on rac_arith.*ok", report)
    assert main(["gate", "--baseline", str(baseline), "--store", str(worse), "--tolerance", "1.0"]) == 0
    capsys.readouterr()
    # the same regression seen as rambling: its thinking grows past the baseline's interval (lower is better)
    assert main(["gate", "--baseline", str(baseline), "--store", str(worse), "--metric", "thinking_ratio"]) == 1
    report = capsys.readouterr().out
    assert re.search(r"rac 0\.5 on rac_arith.*thinking_ratio.*REGRESSED", report) and "95% CI bound" in report
    assert "dense on rac_arith" not in report  # a ratio to dense says nothing of dense itself


def test_gate_checks_several_metrics_of_selected_cells_and_warns_of_a_floor_below_zero(store, capsys, tmp_path):
    baseline = _baseline(store, capsys, tmp_path)
    argv = ["gate", "--baseline", str(baseline), "--store", str(store)]
    assert main([*argv, "--metric", "accuracy,thinking_ratio,kl"]) == 0
    assert "all 7 checks (3 cells x accuracy, thinking_ratio, kl) pass" in capsys.readouterr().out
    # one method, in a store that lacks the others: no hand-edited baseline
    only = tmp_path / "only-rac.sqlite"
    shutil.copy(store, only)
    assert main(["delete", "--store", str(only), "--methods", "magnitude"]) == 0
    assert "deleted 1 cell(s)" in capsys.readouterr().out
    assert main(["gate", "--baseline", str(baseline), "--store", str(only)]) == 2  # magnitude is missing
    capsys.readouterr()
    assert main(["gate", "--baseline", str(baseline), "--store", str(only), "--methods", "dense,rac"]) == 0
    assert "all 2 checks" in capsys.readouterr().out
    assert main([*argv, "--methods", "rac", "--tolerance", "1.0"]) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert (
        len(warning) == 1
        and "floor of accuracy for rac 0.5 on rac_arith (rac-bench/tiny-reasoner) at -0." in warning[0]
    )
    edited = json.loads(baseline.read_text())  # by hand, an interval below 0: no tolerance, still a warning
    for cell in edited["cells"]:
        cell["metrics"]["accuracy"]["low"] = -0.1 if cell["method"] == "rac" else cell["metrics"]["accuracy"]["low"]
    baseline.write_text(json.dumps(edited))
    assert main([*argv, "--methods", "rac"]) == 0
    assert "the baseline's 95% CI puts the floor of accuracy for rac 0.5" in capsys.readouterr().err
    assert main(["delete", "--store", str(only)]) == 2
    assert "delete needs a selection" in capsys.readouterr().err


def test_gate_says_the_smallest_drop_it_catches_and_warns_when_it_cannot_see_one(store, capsys, tmp_path):
    """Issue 32's friction: a gate whose floor is 0, or whose interval is wider than the tolerance asked, passed
    without a word. Each check prints the smallest drop it fails on (on the grid of 60 responses' accuracies)."""
    baseline = _baseline(store, capsys, tmp_path)
    argv = ["gate", "--baseline", str(baseline), "--store", str(store), "--methods", "rac"]
    assert main(argv) == 0
    report = capsys.readouterr()
    base = json.loads(baseline.read_text())
    [rac] = [cell["metrics"]["accuracy"] for cell in base["cells"] if cell["method"] == "rac"]
    caught = (int((rac["value"] - rac["low"]) * 60 + 1e-9) + 1) / 60
    assert "smallest change caught" in report.out and f"{caught:.3f}" in report.out and not report.err
    assert main([*argv, "--tolerance", "0.01"]) == 0  # finer than the interval's 0.1-odd: a warning
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and f"spans {caught:.3f} from its value, more than --tolerance 0.01" in warning[0]
    for cell in base["cells"]:  # a baseline accuracy of 0: its floor is 0, and no accuracy falls below it
        cell["metrics"]["accuracy"] = {"value": 0.0, "low": 0.0, "high": 0.06}
    baseline.write_text(json.dumps(base))
    assert main(argv) == 0
    report = capsys.readouterr()
    assert re.search(r"rac 0\.5 on rac_arith.*none\s+ok", report.out)
    assert "floor of accuracy for rac 0.5 on rac_arith (rac-bench/tiny-reasoner) at 0.000" in report.err
    assert "that check cannot fail" in report.err


def test_gate_refuses_baselines_that_do_not_match_the_run(store, capsys, tmp_path):
    baseline = _baseline(store, capsys, tmp_path)
    document = json.loads(baseline.read_text())
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps({**document, "cells": document["cells"][:2]}))
    more = tmp_path / "more.json"
    extra = {**document["cells"][-1], "method": "wanda"}
    more.write_text(json.dumps({**document, "cells": document["cells"] + [extra]}))
    other_limit = tmp_path / "other-limit.json"
    changed = [{**c, "settings": {**c["settings"], "limit": 600}} for c in document["cells"]]
    other_limit.write_text(json.dumps({**document, "cells": changed}))
    not_json = tmp_path / "not.json"
    not_json.write_text("accuracy: 0.9")
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({**document, "cells": [{**document["cells"][0], "metrics": {"accuracy": 0.9}}]}))
    for path, message in (
        (fewer, "cell(s) the baseline lacks"),
        (more, "the run lacks 1 baseline cell(s), e.g. wanda 0.5"),
        (other_limit, "limit=600"),
        (not_json, "is not JSON"),
        (malformed, "cell 1 is malformed"),
    ):
        assert main(["gate", "--baseline", str(path), "--store", str(store)]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and message in error, error
    assert main(["gate", "--baseline", str(baseline), "--store", str(store), "--metric", "maj@4"]) == 2
    assert "available: accuracy, accuracy_completed, kl, pass@1" in capsys.readouterr().err


def _relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_every_chart_colour_has_at_least_3_to_1_contrast_with_the_charts_white():
    """WCAG 1.4.11 (non-text contrast): a mark or bar must stand 3:1 against the chart's white, in dark mode too
    (the charts keep a white background there)."""
    from rac_bench.leaderboard.plots import EXTRA_COLORS, METHOD_COLORS, Styles

    assert _relative_luminance("#FFFFFF") == pytest.approx(1.0) and _relative_luminance("#000000") == 0.0
    colors = [*METHOD_COLORS.values(), *EXTRA_COLORS, Styles({}, {}).color("an unknown series")]
    contrast = {color: 1.05 / (_relative_luminance(color) + 0.05) for color in colors}
    assert {color: round(ratio, 2) for color, ratio in contrast.items() if ratio < 3} == {}
    assert len(set(colors)) == len(colors)  # no two methods share a colour


def test_a_variants_description_is_made_from_its_own_spec_not_the_registrys_example():
    from rac_bench.leaderboard.method_info import MethodInfo

    gptq = "GPTQ weight quantization (gptq:w4g128), calibrated on task prompts"
    grid = {"bits": 3, "group_size": None, "symmetric": True, "act_order": False}
    traces = {"tokens": 16384, "prompt_tokens": 8157, "generated_tokens": 8227}
    info = MethodInfo("gptq:w3@traces", "gptq", gptq, None, "rac-bench", "0.2.0", "traces", grid, traces)
    assert info.summary == (
        "GPTQ weight quantization: 3 bits, one scale per row; calibrated on traces (16,384 tokens: 8,157 prompt + "
        "8,227 chain of thought)"
    )
    rtn = "round to nearest, per row or group (rtn:w4g128); no calibration"
    grid = {"bits": 4, "group_size": 128, "symmetric": False, "act_order": True}
    info = MethodInfo("rtn:w4g128asymact", "rtn", rtn, None, "rac-bench", "0.2.0", None, grid, {})
    assert info.summary == (
        "round to nearest, per row or group: 4 bits, groups of 128, asymmetric, activation order; no calibration"
    )
    sparsegpt = "SparseGPT (OBS), calibrated on task prompts alone"
    prompts = {"tokens": 16384, "prompt_tokens": 16384, "generated_tokens": 0}
    info = MethodInfo("sparsegpt@text", "sparsegpt", sparsegpt, None, "rac-bench", "0.2.0", "text", None, prompts)
    assert info.summary == "SparseGPT (OBS); calibrated on text (16,384 tokens)"
    # a plain label (a built-in's default, a plugin's) keeps its description as written
    info = MethodInfo("sparsegpt", "sparsegpt", sparsegpt, None, "rac-bench", "0.2.0", "prompts", None, prompts)
    assert info.summary == sparsegpt

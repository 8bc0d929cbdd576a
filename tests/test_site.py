"""The leaderboard as a static site and as files for papers and tools, and `rac-bench compare`, on two stores of the
default run at different seeds: every link resolves, every format parses back, and the pages read in a real
headless Chromium at a desktop's and a phone's width."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rac_bench.cli import main
from tests.browser import Browser, axe_script

TITLE = "Default run, seed 0"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The default run (dense, sparsegpt and rac at 0.5 on 600 problems) at seeds 0 and 1."""
    directory = tmp_path_factory.mktemp("site")
    paths = []
    for seed in (0, 1):
        path = directory / f"seed{seed}.sqlite"
        argv = ["run", "--seed", str(seed), "--store", str(path), "--output-dir", str(directory / f"out{seed}")]
        assert main(argv) == 0
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def site(stores, tmp_path_factory):
    directory = tmp_path_factory.mktemp("pages") / "site"
    assert (
        main(["leaderboard", "--store", str(stores[0]), "--format", "site", "--out", str(directory), "--title", TITLE])
        == 0
    )
    return directory


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.tags, self.meta = [], set(), [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "meta" and "name" in attrs:
            self.meta[attrs["name"]] = attrs.get("content")


def _parsed(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_site_has_an_index_a_page_per_task_and_method_and_every_link_resolves(site, capsys):
    capsys.readouterr()
    pages = sorted(site.rglob("*.html"))
    names = {str(p.relative_to(site)) for p in pages}
    assert names == {
        "index.html",
        "models/rac-bench-tiny-reasoner/rac_arith.html",
        "models/rac-bench-tiny-reasoner/rac_arith-problems.html",
        "methods/dense.html",
        "methods/rac.html",
        "methods/sparsegpt.html",
    }
    assert (site / ".rac-bench-site").is_file()
    parsed = {path: _parsed(path) for path in pages}
    for path, page in parsed.items():
        assert page.meta.get("viewport") == "width=device-width, initial-scale=1", path
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https"):
                assert parts.netloc == "arxiv.org", href  # the only outside links: papers; nothing loads at view time
                continue
            target = (path.parent / parts.path).resolve() if parts.path else path
            assert target.is_file(), f"{path.name}: {href}"
            if parts.fragment:
                assert parts.fragment in _parsed(target).ids, f"{path.name}: {href}"
    index = (site / "index.html").read_text()
    assert "rac_arith accuracy [95% CI]" in index and "mean accuracy" in index
    assert 'href="models/rac-bench-tiny-reasoner/rac_arith.html#cells-rac-0.5"' in index  # a row's permalink
    method = (site / "methods" / "rac.html").read_text()
    assert "SparseGPT calibrated on prompts + the dense model&#x27;s own traces" in method
    assert 'href="https://arxiv.org/abs/2509.12464"' in method and "rac-bench 0.2.0" in method
    assert "16,384 (" in method and "temperature</dt><dd>0.6</dd>" in method  # the calibration, readable
    for text in (index, method):
        assert "None" not in text and "{'" not in text  # no Python reprs
    from rac_bench import __version__

    assert f"Rendered by rac-bench {__version__}" in index


def test_each_pages_data_downloads_parse_back(site):
    for stem in ("leaderboard", "models/rac-bench-tiny-reasoner/rac_arith", "methods/rac"):
        rows = list(csv.DictReader(io.StringIO((site / f"{stem}.csv").read_text())))
        document = json.loads((site / f"{stem}.json").read_text())
        assert document["format"] == "rac-bench-leaderboard/1" and len(document["cells"]) == len(rows)
    rows = list(csv.DictReader(io.StringIO((site / "leaderboard.csv").read_text())))
    assert [row["method"] for row in rows] == ["dense", "rac", "sparsegpt"]
    numeric = {
        "achieved",
        "problems",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "delta_vs_dense",
        "kl",
        "thinking_tokens",
        "latency_seconds",
        "calibration_prompt_tokens",
        "calibration_cot_tokens",
    }
    for row in rows:
        for key in numeric:
            if row[key] != "":
                float(row[key])  # numbers only: a number, or blank where there is none
    dense, rac = rows[0], rows[1]
    assert dense["delta_vs_dense"] == "" and dense["sparsity"] == "0" and dense["calibration_cot_tokens"] == ""
    assert dense["bits"] == "32" and rac["bits"] == "32"  # float32: the evaluated dtype's bits where nothing quantizes
    assert int(rac["calibration_prompt_tokens"]) + int(rac["calibration_cot_tokens"]) == 16384
    document = json.loads((site / "leaderboard.json").read_text())
    assert document["methods"]["rac"]["paper"] == "https://arxiv.org/abs/2509.12464"
    values = document["cells"][1]["values"]
    assert set(values) >= {"accuracy", "thinking_ratio", "latency_seconds", "calibration_cot_tokens", "kl"}
    assert values["accuracy"]["low"] <= values["accuracy"]["value"] <= values["accuracy"]["high"]


def test_a_site_replaces_an_earlier_site_but_never_another_directory(site, stores, tmp_path, capsys):
    argv = ["leaderboard", "--store", str(stores[1]), "--format", "site", "--title", "seed 1"]
    copy = tmp_path / "copy"
    shutil.copytree(site, copy)
    assert main([*argv, "--out", str(copy)]) == 0
    assert "<title>seed 1</title>" in (copy / "index.html").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy")]  # no staging left behind
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    capsys.readouterr()
    assert main([*argv, "--out", str(other)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "holds no rac-bench site" in error
    assert [p.name for p in other.iterdir()] == ["mine.txt"]


def test_a_site_that_fails_to_write_leaves_the_earlier_one_in_place(site, tmp_path, monkeypatch):
    from rac_bench.leaderboard import site_files as site_module

    copy = tmp_path / "copy"
    shutil.copytree(site, copy)
    before = (copy / "index.html").read_text()
    real_rename = Path.rename

    def rename(self, target):
        if self.name.startswith(".copy.") and not self.name.endswith(".previous") and Path(target) == copy.resolve():
            raise OSError(5, "Input/output error")  # the new site cannot be moved into place
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    monkeypatch.setattr(site_module, "exchange", lambda first, second: False)  # a system without renameat2
    with pytest.raises(OSError):
        site_module.write_site(copy, {"index.html": "new"})
    assert (copy / "index.html").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no staging and no moved-aside copy left


def test_text_formats_take_columns_and_latex_is_a_booktabs_table(stores, capsys, tmp_path):
    store = str(stores[0])
    argv = ["leaderboard", "--store", store, "--columns", "method,sparsity,accuracy,delta_vs_dense"]
    assert main([*argv, "--format", "terminal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["method", "sparsity", "accuracy", "[95%", "CI]", "Δ", "vs", "dense", "[95%", "CI]"]
    assert max(len(line) for line in lines[:5]) < 100
    assert main([*argv, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    header = markdown.splitlines()[0]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "method",
        "sparsity",
        "accuracy [95% CI]",
        "Δ vs dense [95% CI]",
    ]
    assert "- `rac`: SparseGPT calibrated on prompts + the dense model's own traces" in markdown
    assert "([paper](https://arxiv.org/abs/2509.12464))" in markdown
    assert main(["leaderboard", "--store", store, "--format", "latex", "--title", "Pruning at 50%"]) == 0
    latex = capsys.readouterr().out
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex and r"\hline" not in latex
    assert r"\caption{Pruning at 50\%." in latex and r"\label{tab:pruning-at-50}" in latex
    assert re.search(r"\$-0\.\d{3}\$\\,\{\\scriptsize \$\[-0\.\d{2}, -0\.\d{2}\]\$\}", latex)  # math-mode minus
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", latex).group(1)
    body = latex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    assert all(line.count(" & ") == len(spec) - 1 for line in body.strip().splitlines())
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None and os.environ.get("RAC_BENCH_REQUIRE_LATEX"):
        pytest.fail("pdflatex is required (RAC_BENCH_REQUIRE_LATEX is set) but not installed; `make latex`")
    if pdflatex:  # compiles when TeX is installed (`make latex`: Debian's texlive-latex-recommended)
        document = tmp_path / "table.tex"
        document.write_text(
            "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + latex + "\\end{document}\n"
        )
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-2000:]
    assert main(["leaderboard", "--store", store, "--columns", "accuracy,nonsense"]) == 2
    assert "unknown column 'nonsense'; accepted: all, model, task" in capsys.readouterr().err


def test_compare_shows_two_seeds_side_by_side_with_paired_differences(stores, capsys, tmp_path):
    argv = ["compare", "--store", str(stores[1]), "--against", str(stores[0])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = {line.split(" on ")[0]: line for line in out.splitlines() if " on rac_arith " in line}
    assert set(rows) == {"dense", "sparsegpt 0.5", "rac 0.5"}
    # greedy evaluation of the same dense model: the same responses whatever the seed; the paired interval of a
    # share still has width (Newcombe's; a bootstrap would give [+0.000, +0.000])
    assert "600 problems" in rows["dense"] and re.search(r"\+0\.000 \[-0\.00\d, \+0\.00\d\]", rows["dense"])
    # the calibration sample changes with the seed, so the pruned models differ a little; paired per problem
    assert re.search(r"600 problems .*[+-]0\.\d{3} \[[+-]0\.\d{3}, [+-]0\.\d{3}\]", rows["rac 0.5"])
    assert main([*argv, "--format", "markdown"]) == 0
    assert capsys.readouterr().out.count("| rac 0.5 on rac_arith") == 1
    page = tmp_path / "reports" / "compare.html"  # a directory the command creates
    assert main([*argv, "--format", "html", "--out", str(page)]) == 0
    assert "<caption>" in page.read_text() and "rac 0.5 on rac_arith" in page.read_text()
    capsys.readouterr()
    assert main(["compare", "--store", str(stores[0]), "--against", str(stores[0])]) == 2
    assert "are the same file" in capsys.readouterr().err


# what each page must satisfy in the browser: measured by the page's own layout engine
MEASURE = """(() => {
  const root = document.documentElement;
  const texts = [];
  const clipped = [];
  document.querySelectorAll("svg.chart").forEach((svg) => {
    const frame = svg.getBoundingClientRect(), scale = frame.width / svg.viewBox.baseVal.width;
    svg.querySelectorAll("text").forEach((text) => {
      texts.push(parseFloat(getComputedStyle(text).fontSize) * scale);
      const b = text.getBoundingClientRect();  // on screen, rotation included
      if (b.left < frame.left - 0.5 || b.top < frame.top - 0.5 || b.right > frame.right + 0.5 ||
          b.bottom > frame.bottom + 0.5)
        clipped.push(text.textContent);
    });
  });
  const headers = Array.from(document.querySelectorAll("table.leaderboard thead th"));
  return {
    ready: document.body.dataset.ready === "1",
    bodyOverflow: root.scrollWidth - root.clientWidth,
    charts: document.querySelectorAll("svg.chart").length,
    smallestChartText: texts.length ? Math.min(...texts) : null,
    clipped: clipped,
    headers: headers.length,
    focusableHeaders: headers.filter((th) => {
      const button = th.querySelector("button");
      return button && button.tabIndex >= 0;
    }).length,
    captions: document.querySelectorAll("table.leaderboard > caption").length,
    tables: document.querySelectorAll("table.leaderboard").length,
    described: Array.from(document.querySelectorAll("svg.chart"))
      .every((svg) => svg.querySelector("desc").textContent.length > 20),
  };
})()"""


@pytest.mark.parametrize("width", [1400, 390])
def test_pages_read_at_desktop_and_phone_width_in_a_real_browser(site, tmp_path, width):
    pages = ["index.html", "models/rac-bench-tiny-reasoner/rac_arith.html", "methods/rac.html"]
    with Browser(tmp_path / "profile") as browser:
        for name in pages:
            browser.open((site / name).as_uri(), width)
            found = browser.evaluate(MEASURE)
            assert found["ready"], name
            assert found["bodyOverflow"] <= 0, (name, found)  # wide tables scroll in their container, not the page
            assert found["tables"] >= 1 and found["captions"] == found["tables"], name
            assert found["headers"] == found["focusableHeaders"] > 0, name
            assert not found["clipped"], (name, found["clipped"])
            if found["charts"]:
                assert found["described"], name
                assert found["smallestChartText"] >= 11, (name, found["smallestChartText"])
        assert browser.evaluate(MEASURE)["charts"] == 0  # the method page has none; the task page:
        browser.open((site / pages[1]).as_uri(), width)
        assert browser.evaluate(MEASURE)["charts"] == 5
        browser.screenshot(tmp_path / f"task-{width}.png")


def test_every_header_sorts_by_keyboard_best_first_and_the_sort_is_kept_in_the_url(site, tmp_path):
    page = (site / "models/rac-bench-tiny-reasoner/rac_arith.html").as_uri()
    with Browser(tmp_path / "profile") as browser:
        browser.open(page, 1400)
        keys = browser.evaluate("Array.from(document.querySelectorAll('thead th')).map((th) => th.dataset.key)")
        for index, key in enumerate(keys):
            browser.evaluate(f"document.querySelectorAll('thead th button')[{index}].focus()")
            browser.press("Enter", 13, "\r")
            state = browser.evaluate(
                f"[document.querySelectorAll('thead th')[{index}].getAttribute('aria-sort'), "
                "document.querySelectorAll('thead th')[" + str(index) + "].dataset.first, location.hash]"
            )
            assert state[0] == state[1], (key, state)  # the first press sorts in the column's better direction
            assert state[2] == f"#sort={key}-{'desc' if state[1] == 'descending' else 'asc'}"
        column = "Array.from(document.querySelectorAll('thead th')).findIndex((th) => th.dataset.key === 'accuracy')"
        accuracy = (
            f"Array.from(document.querySelectorAll('tbody tr')).map((row) => Number(row.cells[{column}].dataset.sort))"
        )
        browser.evaluate("document.querySelector('thead th[data-key=accuracy] button').focus()")
        browser.press("Enter", 13, "\r")  # best first
        best_first = browser.evaluate(accuracy)
        assert best_first == sorted(best_first, reverse=True) and len(best_first) == 3
        browser.press(" ", 32, " ")  # the space bar, again: worst first
        assert browser.evaluate(accuracy) == sorted(best_first)
        # the URL restores the sort: open the page sorted by thinking tokens, fewest first
        browser.open(page + "#sort=thinking_tokens-asc", 1400)
        thinking = browser.evaluate(
            "Array.from(document.querySelectorAll('tbody tr')).map((row) => "
            "Number(row.cells[Array.from(document.querySelectorAll('thead th')).findIndex((th) => "
            "th.dataset.key === 'thinking_tokens')].dataset.sort))"
        )
        assert thinking == sorted(thinking)


@pytest.mark.parametrize("width", [1400, 390])
def test_the_problem_page_shows_dense_and_a_variant_side_by_side_filtered_and_linkable(site, tmp_path, width):
    """Checked against the JSONL download: the rows "dense right, sparsegpt wrong" and their two responses."""
    folder = site / "models/rac-bench-tiny-reasoner"
    records = [json.loads(line) for line in (folder / "rac_arith-problems.jsonl").read_text().splitlines()]
    assert len(records) == 600 and all(set(r["models"]) == {"dense", "sparsegpt-0.5", "rac-0.5"} for r in records)
    expected = {
        r["problem_id"]: (r["models"]["dense"][0]["response"], r["models"]["sparsegpt-0.5"][0]["response"])
        for r in records
        if r["models"]["dense"][0]["correct"] and not r["models"]["sparsegpt-0.5"][0]["correct"]
    }
    assert 100 < len(expected) < 600
    assert 'href="rac_arith-problems.html"' in (folder / "rac_arith.html").read_text()
    page = (folder / "rac_arith-problems.html").as_uri()
    with Browser(tmp_path / "profile") as browser:
        browser.open(page + "?variant=sparsegpt-0.5&outcome=dense-right-variant-wrong", width)
        found = browser.evaluate(
            """JSON.stringify({overflow: document.documentElement.scrollWidth - innerWidth,
              shown: document.getElementById("shown").textContent,
              rows: Array.from(document.querySelectorAll("#problems tbody tr")).filter((r) => !r.hidden).map((r) =>
                [r.querySelector("th").textContent, r.cells[5].textContent, r.cells[6].textContent])})"""
        )
        found = json.loads(found)
        assert found["overflow"] <= 0 and found["shown"] == f"{len(expected)} of 600 problems"
        assert {problem: (dense, variant) for problem, dense, variant in found["rows"]} == expected
        problem = sorted(expected)[0]  # a link to one problem, with the variant and the filter, opens on it
        browser.open(page + f"?variant=rac-0.5&outcome=all#p-{problem}", width)
        seen = browser.evaluate(
            f"[document.getElementById('p-{problem}').getBoundingClientRect().top, innerHeight, "
            "document.getElementById('variant').value, document.querySelectorAll('#problems tbody tr:not([hidden])')"
            ".length]"
        )
        assert -1 < seen[0] < seen[1] and seen[2:] == ["rac-0.5", 600]  # in view (to a sub-pixel: -0.17 seen)
        browser.screenshot(tmp_path / f"problems-{width}.png")


ACCESSIBLE_PAGES = (
    "index.html",
    "models/rac-bench-tiny-reasoner/rac_arith.html",
    "models/rac-bench-tiny-reasoner/rac_arith-problems.html",
    "methods/rac.html",
)
COMMITTED_SITE = Path(__file__).resolve().parents[1] / "leaderboards" / "embedded"


def _accessibility_violations(root: Path, pages, profile: Path) -> dict:
    """axe-core's violations on each page, light and dark, at desktop and phone width (none: {})."""
    script, found = axe_script(), {}
    with Browser(profile) as browser:
        for scheme in ("light", "dark"):
            browser.color_scheme(scheme)
            for width in (1400, 390):
                for name in pages:
                    browser.open((root / name).as_uri(), width)
                    violations = browser.accessibility_violations(script)
                    if violations:
                        found[f"{name} {scheme} {width}px"] = violations
    return found


def test_axe_core_finds_no_violation_on_the_index_task_problem_and_method_pages(site, tmp_path):
    assert _accessibility_violations(site, ACCESSIBLE_PAGES, tmp_path / "profile") == {}


def test_axe_core_finds_no_violation_on_the_committed_site(tmp_path):
    assert _accessibility_violations(COMMITTED_SITE, ACCESSIBLE_PAGES, tmp_path / "profile") == {}


def test_axe_core_reports_the_faults_of_a_deliberately_bad_page(tmp_path):
    """The check above can fail: a page with a skipped heading level, an image without text, faint text, a button
    without a name and no language is reported on every one of them."""
    (tmp_path / "bad.html").write_text(
        '<!doctype html><html><head><title>bad</title></head><body><main><h1>Bad</h1><h4>skipped levels</h4>'
        '<img src="chart.png"><p style="color:#c8c8c8;background:#fff">faint text</p><button></button></main>'
        "</body></html>",
        encoding="utf-8",
    )
    found = _accessibility_violations(tmp_path, ["bad.html"], tmp_path / "profile")
    assert len(found) == 4  # both schemes, both widths
    for violations in found.values():
        assert {"heading-order", "image-alt", "color-contrast", "button-name", "html-has-lang"} <= {
            v["id"] for v in violations
        }


def test_every_page_says_how_its_numbers_were_evaluated(site):
    """Decoding, token limit, samples, problems, seed and backend, on the index, task, problem and method pages."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 6
    for path in pages:
        text = path.read_text(encoding="utf-8")
        found = re.search(r'<h3>Evaluation on rac_arith</h3><dl class="settings">(.*?)</dl>', text)
        assert found, path
        items = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", found.group(1)))
        assert items == {
            "decoding": "greedy",
            "samples per problem": "1",
            "max new tokens": "256",
            "problems": "all",
            "seed": "0",
            "backend": "hf, float32, cpu, batch size 1,024",
        }, path


def test_decoding_is_read_from_the_tasks_definition_only_where_it_is_the_one_measured():
    from rac_bench.fingerprint import fingerprint
    from rac_bench.leaderboard.evaluation_settings import decoding
    from rac_bench.tasks import task_definition

    measured = {"task": "rac_arith", "task_definition": fingerprint(task_definition("rac_arith"))}
    assert decoding({**measured, "samples": 1}) == "greedy"
    assert decoding({**measured, "samples": 4}) == "sampled at temperature 0.6, top-p 1"
    assert decoding({**measured, "task_definition": "0123456789abcdef"}) == "as the task's definition 0123456789ab said"


def test_the_index_shows_each_tasks_rank_and_ties_ordered_by_budget_then_rank(site):
    """As the task page's CSV has them: dense, then the 0.5 group best first."""
    with (site / "models/rac-bench-tiny-reasoner/rac_arith.csv").open(encoding="utf-8") as handle:
        expected = [(r["method"], r["rank"], r["tied_with_best"]) for r in csv.DictReader(handle)]
    text = (site / "index.html").read_text(encoding="utf-8")
    keys = re.findall(r'<th scope="col"[^>]*data-key="([^"]+)"', text[: text.index("</thead>")])
    assert keys[keys.index("accuracy:rac_arith") + 1 : keys.index("accuracy:rac_arith") + 3] == [
        "rank:rac_arith",
        "tied_with_best:rac_arith",
    ]
    body = text[text.index("<tbody") : text.index("</tbody>")]
    shown = []
    for row in re.findall(r"<tr.*?</tr>", body):
        cells = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        shown.append((cells[0].rstrip("#"), *cells[keys.index("rank:rac_arith") : keys.index("rank:rac_arith") + 2]))
    assert shown == expected and [m for m, _, _ in shown] == ["dense", "rac", "sparsegpt"]

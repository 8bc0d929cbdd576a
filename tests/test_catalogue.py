"""The metric catalogue and the formats registry: a metric declared once (in one file) shows in every format, the
site, `compare` and the gate; a format is one module, found by discovery; a store written before the catalogue
(format 2, by 76e5c2b) reads as it did."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest

from rac_bench import catalogue
from rac_bench.cli import main
from tests.toy_metric import TOY

FIXTURE = Path(__file__).parent / "fixtures" / "store_76e5c2b"


@pytest.fixture
def toy_metric():
    catalogue.register(TOY)
    yield TOY
    catalogue.unregister(TOY.key)


@pytest.fixture
def stores(tmp_path):
    for name in ("a.sqlite", "b.sqlite"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    return tmp_path / "a.sqlite", tmp_path / "b.sqlite"


def _out(capsys, argv: list[str], code: int = 0) -> str:
    assert main(argv) == code, capsys.readouterr().err
    return capsys.readouterr().out


def test_a_metric_declared_in_one_file_shows_in_every_format_the_site_compare_and_the_gate(
    toy_metric, stores, tmp_path, capsys
):
    a, b = (str(path) for path in stores)
    markdown = _out(capsys, ["leaderboard", "--store", a, "--format", "markdown"])
    assert "answer share [95% CI]" in markdown.splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(_out(capsys, ["leaderboard", "--store", a, "--format", "csv"]))))
    assert {"answer_share", "answer_share_low", "answer_share_high", "answer_share_is_best"} <= set(rows[0])
    assert sum(row["answer_share_is_best"] == "1" for row in rows) >= 1  # ranked: higher is better
    document = json.loads(_out(capsys, ["leaderboard", "--store", a, "--format", "json"]))
    assert document["cells"][0]["values"]["answer_share"]["value"] > 0
    assert {"key": "answer_share", "higher_is_better": True}.items() <= document["columns"][-1].items()

    site = tmp_path / "site"
    _out(capsys, ["leaderboard", "--store", a, "--format", "site", "--out", str(site)])
    index = (site / "index.html").read_text()
    assert 'data-key="mean_answer_share"' in index and "mean answer share" in index
    assert "answer share [95% CI]" in (site / "models" / "rac-bench-tiny-reasoner" / "rac_arith.html").read_text()

    compared = _out(capsys, ["compare", "--store", a, "--against", b])
    assert "answer_share store - against [95% CI]" in compared

    baseline = tmp_path / "baseline.json"
    _out(capsys, ["leaderboard", "--store", a, "--format", "baseline", "--out", str(baseline)])
    recorded = json.loads(baseline.read_text())["cells"][0]["metrics"]
    assert list(recorded)[-1] == "answer_share"  # gated after pass@k and maj@k, as its `gate` says
    gate = _out(capsys, ["gate", "--baseline", str(baseline), "--store", a, "--metric", "answer_share"])
    assert "all 6 checks (6 cells x answer_share) pass" in gate
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    assert "answer_share (higher" in capsys.readouterr().out  # the help text reads the catalogue


def test_the_gate_reads_a_metrics_direction_from_the_catalogue(toy_metric, stores, tmp_path, capsys):
    """A lower-is-better declaration turns the same numbers into a regression."""
    a = str(stores[0])
    baseline = tmp_path / "baseline.json"
    _out(capsys, ["leaderboard", "--store", a, "--format", "baseline", "--out", str(baseline)])
    document = json.loads(baseline.read_text())
    for cell in document["cells"]:
        share = cell["metrics"]["answer_share"]
        low = share["low"]
        cell["metrics"]["answer_share"] = {**share, "low": low / 4, "value": low / 2, "high": low / 2}
    baseline.write_text(json.dumps(document))
    argv = ["gate", "--baseline", str(baseline), "--store", a, "--metric", "answer_share"]
    assert "all 6 checks" in _out(capsys, argv)
    catalogue.unregister(TOY.key)
    catalogue.register(catalogue.Metric(**{**vars(TOY), "direction": "lower"}))
    assert "6 of 6 checks" in _out(capsys, argv, code=1)


def test_a_format_is_one_module_found_by_discovery(stores, tmp_path, capsys):
    from rac_bench.leaderboard import formats

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toy_format.py").write_text(
        textwrap.dedent(
            """
            from rac_bench.leaderboard.formats import Format

            def _render(board):
                return "".join(f"{c.identity.method}\\t{c.results.accuracy.value:.3f}\\n" for c in board.cells)

            FORMAT = Format("tsv", "tsv", _render, "method and accuracy")
            """
        )
    )
    formats.__path__.append(str(folder))
    try:
        a = str(stores[0])
        assert "dense\t1.000\n" in _out(capsys, ["leaderboard", "--store", a, "--format", "tsv"])
        out = tmp_path / "board"
        _out(capsys, ["leaderboard", "--store", a, "--format", "tsv,csv", "--out", str(out)])
        assert (tmp_path / "board.tsv").read_text().startswith("dense\t1.000") and (tmp_path / "board.csv").exists()
        assert "tsv (method and accuracy)" in formats.formats_help()
    finally:
        formats.__path__.remove(str(folder))
    assert "tsv" not in formats.available_formats()


def test_a_store_written_before_the_catalogue_reads_migrated_and_new_cells_are_format_3(stores, tmp_path):
    from rac_bench.cells import CELL_FORMAT
    from rac_bench.store import open_store

    stored = sqlite3.connect(stores[0]).execute("SELECT summary FROM cells").fetchall()
    old = [json.loads(row[0]) for row in stored]
    assert {cell["format"] for cell in old} == {2} and CELL_FORMAT == 3
    store = open_store(stores[0], read_only=True)
    try:
        cells = {cell.identity.method: cell for cell in store.latest_cells()}
    finally:
        store.close()
    by_method = {cell["identity"]["method"]: cell for cell in old}
    rac, dense = cells["rac"], cells["dense"]
    assert rac.results.delta_vs_dense.value == by_method["rac"]["delta_vs_dense"]["value"]
    assert rac.results["thinking_ratio"].low == by_method["rac"]["thinking_ratio"]["low"]
    assert dense.results.delta_vs_dense is None and rac.results.pass_at_k["2"].value > 0
    again = type(rac).from_dict(json.loads(json.dumps(rac.to_dict())))
    assert again == rac and rac.to_dict()["format"] == 3 and "thinking_ratio" not in rac.to_dict()


def test_an_unknown_cell_format_is_refused():
    from rac_bench.cells import Cell

    with pytest.raises(ValueError, match="cell format 9"):
        Cell.from_dict({"format": 9})


def test_each_metric_is_declared_once_and_named_in_at_most_two_modules():
    package = Path(__file__).resolve().parents[1] / "rac_bench"
    naming = [p for p in package.rglob("*.py") if "thinking_ratio" in p.read_text()]
    assert len(naming) <= 2, naming
    keys = [metric.key for metric in catalogue.metrics()]
    assert len(keys) == len(set(keys))
    with pytest.raises(ValueError, match="declared twice"):
        catalogue.register(catalogue.get("accuracy"))


def test_a_metric_computed_from_the_samples_is_stored_with_the_cell_and_read_back(stores):
    """A metric declared with `compute` is computed when a cell is summarized, stored in its results and decoded
    through the catalogue when read (here from the real sample records of a stored cell)."""
    from dataclasses import replace

    from rac_bench.cells import Cell, CellResults
    from rac_bench.evaluation import Timing, summarize
    from rac_bench.metrics import proportion
    from rac_bench.zoo.arithmetic import RETRIES
    from rac_bench.store import open_store

    def long_answers(records):
        return proportion([float(r["answer_tokens"] > 2) for r in records])

    metric = catalogue.Metric(
        "long_answers", "long answers [95% CI]", compute=long_answers, stored="estimate", direction="lower"
    )
    catalogue.register(metric, after="answer_tokens")
    try:
        store = open_store(stores[0], read_only=True)
        try:
            cell = next(c for c in store.latest_cells() if c.identity.method == "sparsegpt")
            records = store.samples(cell.key)
        finally:
            store.close()
        results = summarize(records, Timing(1.0, 1.0, 1, 0), {}, {}, None, RETRIES)
        assert results.accuracy == cell.results.accuracy and results.long_answers == long_answers(records)
        stored = Cell.from_dict(json.loads(json.dumps(replace(cell, results=results).to_dict())))
        assert stored.results["long_answers"] == long_answers(records)
        assert isinstance(stored.results, CellResults)
        keys = [m.key for m in catalogue.columns()]
        assert keys[keys.index("answer_tokens") + 1] == "long_answers"
    finally:
        catalogue.unregister("long_answers")

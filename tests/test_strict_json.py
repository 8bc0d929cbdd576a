"""Every JSON file and store record rac-bench writes is strict JSON: null where a number is undefined (dense's
thinking distribution over incorrect responses, when it has none), never a bare NaN or Infinity."""

from __future__ import annotations

import json
import sqlite3

from rac_bench.cli import main


def refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def test_every_file_and_record_a_run_writes_parses_as_strict_json(tmp_path, capsys):
    out, cache, store = tmp_path / "out", tmp_path / "cache", tmp_path / "results.sqlite"
    argv = ["run", "--methods", "rac", "--limit", "20", "--calibration-tokens", "2048", "--output-dir", str(out)]
    assert main([*argv, "--cache-dir", str(cache), "--store", str(store)]) == 0
    board = ["--format", "json,baseline,site", "--out", str(tmp_path / "board")]
    assert main(["leaderboard", "--store", str(store), *board]) == 0
    written = [*out.rglob("*.json"), *out.rglob("*.jsonl"), *cache.rglob("*.json"), *cache.rglob("*.jsonl")]
    written += [tmp_path / "board.json", tmp_path / "board.baseline.json", *(tmp_path / "board").rglob("*.json")]
    assert {path.name for path in written} >= {
        "summary.json",
        "samples.jsonl",
        "manifest.json",
        "rac_bench_report.json",
    }
    for path in written:
        for line in path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]:
            json.loads(line, parse_constant=refuse)
    summary = json.loads((out / "summary.json").read_text(), parse_constant=refuse)
    dense = next(cell for cell in summary["cells"] if cell["identity"]["method"] == "dense")
    assert dense["results"]["accuracy"]["value"] == 1.0
    assert dense["results"]["thinking_distribution"]["incorrect"]["mean"] is None  # no incorrect response
    connection = sqlite3.connect(store)
    for table, column in (("cells", "summary"), ("samples", "record"), ("runs", "config"), ("runs", "provenance")):
        for (text,) in connection.execute(f"SELECT {column} FROM {table}"):
            json.loads(text, parse_constant=refuse)
    connection.close()

"""A run's output directory: `samples.jsonl`, `summary.json`, `leaderboard.md` and `lm_eval/<variant>.json`.
Every document is rendered before the first is written, and each is written whole (temporary file, rename)."""

from __future__ import annotations

from pathlib import Path

from rac_bench import strict_json
from rac_bench.cells import Cell
from rac_bench.export import lm_eval_results
from rac_bench.files import disk_full_as_error, write_atomic
from rac_bench.leaderboard.text import render_text


def write_outputs(output_dir: Path, cells: list[Cell], samples: list[dict], summary: dict) -> str:
    """Write the run's outputs; returns the table for the terminal."""
    documents = {
        "samples.jsonl": "".join(strict_json.dumps(s) + "\n" for s in samples),
        "summary.json": strict_json.dumps({**summary, "cells": [c.to_dict() for c in cells]}, indent=2),
        "leaderboard.md": render_text(cells, "markdown") + "\n",
        **{f"lm_eval/{name}.json": strict_json.dumps(doc, indent=2) for name, doc in lm_eval_results(cells).items()},
    }
    table = render_text(cells, "terminal")
    with disk_full_as_error(output_dir):
        (output_dir / "lm_eval").mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        write_atomic(output_dir / name, text)
    return table

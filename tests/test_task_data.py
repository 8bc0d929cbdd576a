import shutil
from pathlib import Path

import pytest

from rac_bench.errors import DataError
from rac_bench.task_data import LETTERS, load_rows
from rac_bench.tasks import TASKS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("task, size", [("math500", 500), ("aime24", 30), ("aime25", 30), ("amc23", 40)])
def test_local_copies_load_with_ids_questions_and_answers(task, size):
    rows = load_rows(task, SHARED_DATA)
    assert len(rows) == size == TASKS[task].size
    assert len({r["id"] for r in rows}) == size
    assert all(r["question"] and str(r["answer"]).strip() for r in rows)


def test_competition_answers_are_canonical_integers():
    aime = {r["id"]: r["answer"] for r in load_rows("aime24", SHARED_DATA)}
    assert (aime["2024-I-1"], aime["2024-I-2"], aime["2024-II-15"]) == ("204", "25", "315")
    amc = {r["id"]: r["answer"] for r in load_rows("amc23", SHARED_DATA)}
    assert amc["2023-12A-1"] == "27" and amc["2023-12A-25"] == "-1"


def test_gpqa_choices_are_shuffled_deterministically_per_record_id():
    rows = load_rows("gpqa_diamond", FIXTURES)
    assert len(rows) == 4
    again = load_rows("gpqa_diamond", FIXTURES)
    assert rows == again
    correct = {"recFIXTURE001": "Teal", "recFIXTURE002": "Seven", "recFIXTURE003": "Quixium", "recFIXTURE004": "3"}
    for row in rows:
        options = dict(line.split(") ", 1) for line in row["question"].split("\n\n")[1].splitlines())
        assert list(options) == list(LETTERS)
        assert options[row["answer"]] == correct[row["id"]]
    # the shuffle depends on the question, not on a global RNG: not every correct answer lands on the same letter
    assert len({row["answer"] for row in rows}) > 1


def test_missing_file_and_missing_answer_name_the_file_and_row(tmp_path):
    with pytest.raises(DataError, match="math500.jsonl does not exist"):
        load_rows("math500", tmp_path)
    shutil.copy(SHARED_DATA / "amc23.jsonl", tmp_path / "amc23.jsonl")
    lines = (tmp_path / "amc23.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"answer"', '"not_the_answer"')
    (tmp_path / "amc23.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"amc23.jsonl row 3 lacks the field 'answer'"):
        load_rows("amc23", tmp_path)


def test_reasoning_tasks_run_through_rac_bench_with_repeats(tmp_path):
    """The YAMLs, loaders, repeats and scorers under rac-bench's adapter, on the embedded model with a tiny
    budget (it cannot solve these; the pipeline is what is tested)."""
    import json

    from rac_bench.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SHARED_DATA / "amc23.jsonl", data)
    shutil.copy(FIXTURES / "gpqa_diamond.csv", data)
    code = main(
        [
            "run",
            "--methods",
            "magnitude",
            "--tasks",
            "amc23,gpqa_diamond",
            "--data-dir",
            str(data),
            "--limit",
            "2",
            "--samples",
            "3",
            "--max-new-tokens",
            "8",
            "--output-dir",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    cells = json.loads((tmp_path / "out" / "summary.json").read_text())["cells"]
    assert [(c["identity"]["method"], c["identity"]["task"]) for c in cells] == [
        ("dense", "amc23"),
        ("dense", "gpqa_diamond"),
        ("magnitude", "amc23"),
        ("magnitude", "gpqa_diamond"),
    ]
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    for cell in cells:
        identity, results = cell["identity"], cell["results"]
        own = [s for s in samples if (s["method"], s["task"]) == (identity["method"], identity["task"])]
        assert (results["problems"], results["samples"], len(own)) == (2, 6, 6)
        # truncated exactly when </think> never closed (one rule); the limit after a closed thinking is apart
        assert [s["truncated"] for s in own] == ["</think>" not in s["response"] for s in own]
        assert [s["limit_after_answer"] for s in own] == [
            s["finish_reason"] == "length" and "</think>" in s["response"] for s in own
        ]
        assert results["truncation"]["value"] == pytest.approx(sum(s["truncated"] for s in own) / 6)
        assert results["lm_eval"]["accuracy,all"] == results["accuracy"]["value"] == 0.0
        assert set(results["pass_at_k"]) == {"1", "2"} and set(results["maj_at_k"]) == {"3"}
    assert {s["sample_index"] for s in samples} == {0, 1, 2}
    assert all("Please reason step by step" in s["prompt"] for s in samples)
    exports = [json.loads(path.read_text()) for path in (tmp_path / "out" / "lm_eval").glob("*.json")]
    assert len(exports) == 2 and all(  # rac-bench's standard errors under the tasks' filter, not lm-eval's N/A
        isinstance(export["results"][task]["accuracy_stderr,all"], float)
        for export in exports
        for task in export["results"]
    )


def test_gated_gpqa_without_access_says_to_accept_the_terms_and_log_in(tmp_path):
    """Offline (as here, and as for a user without access), the hub load fails with a one-line, actionable error."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("RAC_BENCH_DATA_DIR", None)
    code = (
        "from rac_bench.task_data import load_rows\n"
        "from rac_bench.errors import DataError\n"
        "try:\n    load_rows('gpqa_diamond')\nexcept DataError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    message = result.stdout.strip()
    assert "cannot load Idavidrein/gpqa from the hub" in message
    assert "accept its terms on the hub and run `hf auth login`" in message and "--data-dir" in message

"""Rows of the reasoning benchmarks, from the Hugging Face hub (pinned) or from local copies.

Every loader returns dicts with at least `id`, `question` and `answer`. A local directory (`--data-dir`, or
the RAC_BENCH_DATA_DIR environment variable) takes precedence over the hub: it holds `math500.jsonl`,
`aime2024.jsonl`, `aime2025.jsonl`, `amc23.jsonl` and `gpqa_diamond.csv` (the official GPQA CSV schema).
GPQA's four choices are shuffled per question with a seed taken from its Record ID, never from a global RNG.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rac_bench.errors import DataError, first_line
from rac_bench.input_files import json_lines, reading

DATA_DIR_VARIABLE = "RAC_BENCH_DATA_DIR"
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = "Please reason step by step, and put the letter of your final answer within \\boxed{}."
LETTERS = "ABCD"


@dataclass(frozen=True)
class HubSource:
    path: str
    split: str
    configs: tuple[str | None, ...] = (None,)
    revision: str = "main"
    gated: bool = False


@dataclass(frozen=True)
class DatasetSource:
    local_file: str
    hub: HubSource
    to_row: Callable[[dict, int], dict]  # raw record, index -> normalised row (raises KeyError on a missing field)
    keep: Callable[[dict], bool] = lambda record: True


def _text(record: dict, field: str) -> str:
    value = record[field]
    if not isinstance(value, str):
        raise ValueError(f"field {field!r} is {'missing' if value is None else 'not text'}")
    return value


def _answer_text(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"answer {value!r} is not text or a number")
    return str(value)


def _math500_row(record: dict, index: int) -> dict:
    return {
        "id": str(record["unique_id"]),
        "question": _text(record, "problem"),
        "answer": _answer_text(record["answer"]),
        "solution": record.get("solution"),
        "level": record.get("level"),
        "subject": record.get("subject"),
    }


def _integer_text(value) -> str:
    number = float(_answer_text(value))
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"answer {value!r} is not an integer")
    return str(int(number))


def _competition_row(record: dict, index: int) -> dict:
    question = record.get("problem", record.get("question"))
    if question is None:
        raise KeyError("problem")
    if not isinstance(question, str):
        raise ValueError("field 'problem' is not text")
    identifier = record.get("id", record.get("ID", index))
    return {
        "id": str(identifier),
        "question": question,
        "answer": _integer_text(record["answer"]),
        "solution": record.get("solution"),
    }


def _gpqa_row(record: dict, index: int) -> dict:
    correct = _text(record, "Correct Answer").strip()
    choices = [correct] + [_text(record, f"Incorrect Answer {k}").strip() for k in (1, 2, 3)]
    record_id = record.get("Record ID") or str(index)
    seed = int(hashlib.sha256(record_id.encode()).hexdigest()[:16], 16)
    random.Random(seed).shuffle(choices)
    options = "\n".join(f"{letter}) {choice}" for letter, choice in zip(LETTERS, choices))
    return {
        "id": record_id,
        "question": f"{_text(record, 'Question').strip()}\n\n{options}",
        "answer": LETTERS[choices.index(correct)],
        "domain": record.get("High-level domain"),
    }


# Revisions: the commits public evaluation code pins for MATH-500, aime_2024 and aimo-validation-amc (not checked
# against the hub from here, which has no hub access); AIME 2025 and GPQA follow `main` until pinned.
SOURCES: dict[str, DatasetSource] = {
    "math500": DatasetSource(
        "math500.jsonl",
        HubSource("HuggingFaceH4/MATH-500", "test", revision="6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be"),
        _math500_row,
    ),
    "aime24": DatasetSource(
        "aime2024.jsonl",
        HubSource("HuggingFaceH4/aime_2024", "train", revision="2fe88a2f1091d5048c0f36abc874fb997b3dd99a"),
        _competition_row,
    ),
    "aime25": DatasetSource(
        "aime2025.jsonl", HubSource("opencompass/AIME2025", "test", ("AIME2025-I", "AIME2025-II")), _competition_row
    ),
    "amc23": DatasetSource(
        "amc23.jsonl",
        HubSource("AI-MO/aimo-validation-amc", "train", revision="69d78a4a2c840e82d69af6bc742bda09005f6316"),
        _competition_row,
        keep=lambda record: "2023" in str(record.get("url", "2023")),
    ),
    "gpqa_diamond": DatasetSource(
        "gpqa_diamond.csv", HubSource("Idavidrein/gpqa", "train", ("gpqa_diamond",), gated=True), _gpqa_row
    ),
}


def data_dir(explicit: str | Path | None = None) -> Path | None:
    value = explicit or os.environ.get(DATA_DIR_VARIABLE)
    return Path(value) if value else None


def _read_local(path: Path) -> list:
    if not path.exists():
        raise DataError(
            f"data file {path} does not exist; put the task's file there or unset --data-dir to use the hub"
        )
    if path.suffix != ".csv":
        return [record for _, record in json_lines(path, DataError, "data file")]
    with reading(path, DataError, "data file"):
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        except (csv.Error, OSError) as error:
            raise DataError(f"cannot read data file {path} as CSV: {error}") from None


def _read_hub(hub: HubSource) -> list[dict]:
    import datasets

    records = []
    for config in hub.configs:
        try:
            records.extend(datasets.load_dataset(hub.path, config, split=hub.split, revision=hub.revision))
        except Exception as error:  # the hub raises many types; the user needs one line either way
            reason = first_line(error)
            hint = " (the dataset is gated: accept its terms on the hub and run `hf auth login`)" if hub.gated else ""
            raise DataError(
                f"cannot load {hub.path} from the hub{hint}: {reason}; or point --data-dir at a local copy"
            ) from None
    return records


def load_rows(task: str, directory: str | Path | None = None) -> list[dict]:
    if task not in SOURCES:
        raise DataError(f"no data source for task {task!r}; available: {', '.join(sorted(SOURCES))}")
    source = SOURCES[task]
    local = data_dir(directory)
    origin = str(local / source.local_file) if local else source.hub.path
    records = _read_local(local / source.local_file) if local else _read_hub(source.hub)
    not_objects = [number for number, record in enumerate(records, 1) if not isinstance(record, dict)]
    if not_objects:
        raise DataError(f"{origin} row {not_objects[0]} is not a JSON object with the task's fields")
    rows = []
    for index, record in enumerate(r for r in records if source.keep(r)):
        try:
            row = source.to_row(record, index)
        except KeyError as missing:
            raise DataError(f"{origin} row {index + 1} lacks the field {missing}") from None
        except (TypeError, ValueError) as error:
            raise DataError(f"{origin} row {index + 1} is malformed: {error}") from None
        if not str(row["answer"]).strip():
            raise DataError(f"{origin} row {index + 1} has an empty answer")
        rows.append(row)
    if not rows:
        raise DataError(f"{origin} holds no rows for task {task}")
    return rows


def check_task_data(tasks: list[str], directory: str | Path | None = None) -> None:
    """Load every task's rows once, so that data which cannot be read fails before a run writes anything."""
    for task in tasks:
        if task in SOURCES:
            load_rows(task, directory)


def data_revision(task: str, directory: str | Path | None = None) -> str:
    """Which data a task read: the hub dataset at its pinned revision, or a local file by content hash."""
    if task not in SOURCES:
        return "generated"
    source = SOURCES[task]
    return local_or_hub_revision(source.hub.path, source.hub.revision, source.local_file, directory)


def local_or_hub_revision(hub_path: str, hub_revision: str, local_file: str, directory: str | Path | None) -> str:
    """The hub dataset at its pinned revision, or, with a data directory, its local copy by content hash."""
    local = data_dir(directory)
    if local is None:
        return f"{hub_path}@{hub_revision}"
    path = local / local_file
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
    return f"{local_file} sha256:{digest}"  # not the path: the same data anywhere compares equal

"""Where calibration questions come from: the embedded task's own calibration split (`rac_arith`), or a public
problem set such as OpenR1-Math-220k, the paper's source of RAC traces, from the hub or a local copy.

Questions are drawn with a seeded shuffle, so a prompt set, a count and a seed always give the same questions.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from rac_bench.calibration.jsonl import read_string_field
from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.task_data import data_dir


@dataclass(frozen=True)
class HubProblems:
    path: str
    config: str
    split: str
    field: str
    local_file: str  # JSON lines with the same field, in --data-dir / RAC_BENCH_DATA_DIR
    revision: str = "main"


HUB_SETS = {
    "openr1_math": HubProblems("open-r1/OpenR1-Math-220k", "default", "train", "problem", "openr1_math.jsonl"),
}
PROMPT_SETS = ("rac_arith", *HUB_SETS)
SHUFFLE_BUFFER = 10_000  # streamed rows shuffled at a time: the hub set is not downloaded whole


def check_prompt_set(name: str) -> None:
    if name not in PROMPT_SETS:
        raise ConfigError(f"calibration prompt set {name!r} is unknown; available: {', '.join(PROMPT_SETS)}")


def prompt_set_revision(name: str, directory: str | Path | None = None) -> str:
    """Which questions a prompt set names: the hub revision, or a local file by content hash."""
    if name not in HUB_SETS:
        return "generated"
    source, local = HUB_SETS[name], data_dir(directory)
    if local is None:
        return f"{source.path}@{source.revision}"
    path = local / source.local_file
    return f"{source.local_file} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else 'missing'}"


def calibration_questions(name: str, count: int, seed: int = 0, directory: str | Path | None = None) -> list[str]:
    check_prompt_set(name)
    if name == "rac_arith":
        from rac_bench.tasks import get_task

        return get_task(name).calibration_questions()[:count]
    source, local = HUB_SETS[name], data_dir(directory)
    questions = _local(local / source.local_file, source.field) if local else _hub(source, count, seed)
    if local:
        random.Random(seed).shuffle(questions)
    if not questions:
        raise CalibrationError(f"calibration prompt set {name} holds no questions")
    return questions[:count]


def _local(path: Path, field: str) -> list[str]:
    if not path.is_file():
        raise CalibrationError(
            f"calibration file {path} does not exist; put it there or unset --data-dir to use the hub"
        )
    return read_string_field(path, field)


def _hub(source: HubProblems, count: int, seed: int) -> list[str]:
    import datasets

    try:
        stream = datasets.load_dataset(
            source.path, source.config, split=source.split, revision=source.revision, streaming=True
        )
        rows = stream.shuffle(seed=seed, buffer_size=SHUFFLE_BUFFER).take(count)
        return [str(row[source.field]) for row in rows]
    except Exception as error:  # the hub raises many types; the user needs one line either way
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CalibrationError(
            f"cannot load {source.path} from the hub: {reason}; or put {source.local_file} in --data-dir"
        ) from None

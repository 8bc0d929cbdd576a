"""Every step that reads model output is bounded: extraction and normalisation are linear (adversarial output
of 100,000 characters is scored within a second of scorer time), only the answer's tail is read past a cap,
and the symbolic check runs in a worker limited in memory that starts whether or not the caller guards
`__main__`. The bounds are generous (measured times are about a tenth of them) so a loaded machine passes."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rac_bench.scoring import MAX_ANSWER_CHARS, score_response
from rac_bench.scoring.boxes import extract_boxed, final_boxes
from rac_bench.scoring.choice import extract_letter
from rac_bench.scoring.integer import extract_integer
from rac_bench.scoring.latex import normalize_answer
from rac_bench.scoring.math_answer import WORKER_MODULE, checker
from rac_bench.scoring.sandbox import SandboxedChecker

N = 100_000
SCORER_SECONDS = 1.0
ADVERSARIAL = {
    "unclosed boxes": "\\boxed{" * (N // 7),
    "open braces": "\\boxed{" + "{" * N,
    "nested braces": "\\boxed{" + "{" * (N // 2) + "}" * (N // 2) + "}",
    "nested boxes": "\\boxed{" * (N // 8) + "1" + "}" * (N // 8),
    "many boxes": "\\boxed{1}, " * (N // 11),
    "long whitespace": "The final answer" + " " * N,
    "whitespace in a box": "\\boxed{1" + " " * N + "x}",
    "answer words": "the answer is " * (N // 14),
    "backslashes": "\\" * N,
    "text wrappers": "\\boxed{" + "\\text{" * (N // 6) + "}",
    "digits and commas": "\\boxed{" + "1," * (N // 2) + "}",
    "fractions": "\\boxed{" + "\\frac{" * (N // 6) + "1}{2}",
    "dollars": "\\boxed{" + "$" * N + "}",
    "delimiters": "\\boxed{" + "\\(" * (N // 4) + "\\)" * (N // 4) + "}",
}


@pytest.fixture(scope="module", autouse=True)
def warm_worker():
    checker().call("1", "1")  # start-up is not scorer time


@pytest.mark.parametrize("name", ADVERSARIAL)
@pytest.mark.parametrize("scorer", ["math", "integer", "multiple_choice"])
def test_adversarial_output_is_scored_within_a_second(name, scorer):
    worker = checker()
    in_worker_before, started = worker.seconds_in_calls, time.perf_counter()
    score = score_response(scorer, "<think>loop</think>" + ADVERSARIAL[name], "5")
    scorer_seconds = time.perf_counter() - started - (worker.seconds_in_calls - in_worker_before)
    assert scorer_seconds < SCORER_SECONDS
    assert score.clipped_to == MAX_ANSWER_CHARS
    assert worker.last_check_seconds < worker.time_limit + 0.5


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_each_reading_step_is_linear_without_the_cap(name):
    for step in (extract_boxed, final_boxes, normalize_answer, extract_letter, extract_integer):
        started = time.perf_counter()
        step(ADVERSARIAL[name])
        assert time.perf_counter() - started < SCORER_SECONDS, step.__name__


def test_a_long_answer_is_scored_on_its_tail_and_the_cap_recorded():
    long = score_response("math", "</think>" + "\\boxed{7} " * 5000 + "so \\boxed{42}", "42")
    assert long.correct and long.clipped_to == MAX_ANSWER_CHARS
    short = score_response("math", "</think>so \\boxed{42}", "42")
    assert short.correct and short.clipped_to is None


def _peak_address_space_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmPeak:")).split()[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the worker's peak memory from /proc")
def test_the_worker_cannot_grow_past_its_memory_limit():
    limit = 64 * 2**20
    sandbox = SandboxedChecker(WORKER_MODULE, time_limit=60.0, memory_limit=limit)
    try:
        sandbox.call("1", "1")
        warm_kib = _peak_address_space_kib(sandbox._process.pid)
        assert sandbox.call("1", "2^{2^{30}}") is False  # 2^(2^30) alone is 128 MiB; unlimited, the check takes 750
        assert sandbox.timeouts == 0  # stopped by the memory limit, not by the clock
        assert _peak_address_space_kib(sandbox._process.pid) <= warm_kib + limit // 1024
        assert sandbox.call("\\frac{1}{2}", "0.5") is True  # and it still works
    finally:
        sandbox.close()


def test_scoring_works_from_a_script_without_a_main_guard(tmp_path):
    """The worker is a fresh `python -m`, so a caller's unguarded script is never re-imported."""
    script = tmp_path / "score.py"
    script.write_text(
        textwrap.dedent(
            """
            from rac_bench.scoring import score_response
            print("scored", score_response("math", "</think>\\\\boxed{2x+1}", "y = 2x + 1").correct)
            """
        )
    )
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=tmp_path,
    )
    assert result.stdout.split() == ["scored", "True"], result.stderr[-2000:]

"""Answer checking that a paper can trust: against every MATH-500 and AIME 2024 reference solution, the AIME and
AMC answers in the forms models write, a table of tricky cases, and a fuzz of adversarial strings under the
time limit."""

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rac_bench.scoring import score_response
from rac_bench.scoring.boxes import extract_boxed
from rac_bench.scoring.latex import normalize_answer
from rac_bench.scoring.math_answer import WORKER_MODULE, extract_math_answer, math_equal
from rac_bench.scoring.sandbox import SandboxedChecker
from rac_bench.scoring.string_rules import comparison_key

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def rows(name):
    return [json.loads(line) for line in (SHARED_DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def text_key(answer):
    """The answer as written, up to notation: `5` and `x=5` are one answer, so they make no deranged pair."""
    return comparison_key(normalize_answer(re.sub(r"^[A-Za-z]\s*=\s*", "", str(answer))))


def agreement(records, answer_key="answer"):
    """(share of solutions judged equal to their own answer, share judged NOT equal to a different answer)."""
    own_failures = [r for r in records if not math_equal(extract_math_answer(r["solution"]), r[answer_key])]
    pairs = [(r, records[(i + 1) % len(records)]) for i, r in enumerate(records)]
    pairs = [(r, other) for r, other in pairs if text_key(other[answer_key]) != text_key(r[answer_key])]
    false_matches = [(r, o) for r, o in pairs if math_equal(extract_math_answer(r["solution"]), o[answer_key])]
    return own_failures, false_matches, len(pairs)


def test_math500_solutions_match_their_answers_and_not_others():
    records = rows("math500.jsonl")
    own_failures, false_matches, pairs = agreement(records)
    assert (len(records), pairs) == (500, 497)
    assert not own_failures, [(r["unique_id"], r["answer"]) for r in own_failures]
    assert not false_matches, [(r["unique_id"], o["answer"]) for r, o in false_matches]


def test_aime2024_solutions_match_their_answers_and_not_others():
    records = [r for r in rows("aime2024.jsonl") if r["solution"] and extract_boxed(r["solution"])]
    assert len(records) >= 25  # AoPS solutions that end in a boxed answer
    own_failures, false_matches, _ = agreement(records)
    assert not own_failures, [(r["id"], extract_boxed(r["solution"])) for r in own_failures]
    assert not false_matches


@pytest.mark.parametrize("name", ["aime2024.jsonl", "aime2025.jsonl", "amc23.jsonl"])
def test_integer_answers_in_the_forms_models_write(name):
    """AIME and AMC answers as a model boxes them (`016`, `$16$`, `16.`, `\\text{16}`): equal to their own
    answer, never to the next problem's."""
    answers = [str(r["answer"]) for r in rows(name)]
    for index, answer in enumerate(answers):
        other = answers[(index + 1) % len(answers)]
        for form in (
            f"{int(answer):03d}",
            f"${answer}$",
            f"{answer}.",
            f"\\text{{{answer}}}",
            f"{answer} \\text{{ ways}}",
        ):
            response = f"</think>The answer is \\boxed{{{form}}}"
            assert score_response("math", response, answer).correct, (form, answer)
            assert text_key(other) == text_key(answer) or not score_response("math", response, other).correct


# (model's boxed answer, reference, equivalent?)
CASES = [
    ("\\frac{1}{2}", "0.5", True),
    ("\\dfrac{1}{2}", "\\frac12", True),
    ("\\tfrac{3}{4}", "\\frac{3}{4}", True),
    ("0.5", "\\frac{1}{2}", True),
    ("1/2", "\\frac{1}{2}", True),
    ("\\frac{2}{4}", "\\frac{1}{2}", True),
    ("0.50", "0.5", True),
    ("5.0", "5", True),
    ("05", "5", True),
    ("1,000", "1000", True),
    ("1,234,567", "1234567", True),
    ("10\\%", "10", True),
    ("10", "10\\%", True),
    ("30^\\circ", "30", True),
    ("30^{\\circ}", "30", True),
    ("30°", "30", True),
    ("x = 5", "5", True),
    ("y=-3", "-3", True),
    ("5 \\text{ cm}", "5", True),
    ("12\\text{ inches}", "12", True),
    ("\\$5", "5", True),
    ("\\text{Evelyn}", "\\text{Evelyn}", True),
    ("Evelyn", "\\text{Evelyn}", True),
    ("(1, 2)", "(1,2)", True),
    ("(1,2)", "(2,1)", False),
    ("[1, 2)", "[1,2)", True),
    ("[1,2]", "[1,2)", False),
    ("(-\\infty, 3)", "(-\\infty,3)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", True),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", False),
    ("2\\sqrt{2}", "\\sqrt{8}", True),
    ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", True),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt2}{2}", True),
    ("\\pi", "\\pi", True),
    ("2\\pi", "\\pi", False),
    ("3.14", "\\pi", False),
    ("-1", "1", False),
    ("0", "-0", True),
    ("1", "2", False),
    ("25", "025", True),
    ("204", "204", True),
    ("204", "240", False),
    ("1000", "100", False),
    ("x^2+2x+1", "(x+1)^2", True),
    ("x^2+1", "x^2-1", False),
    ("2, 3", "3, 2", True),
    ("\\{1,2\\}", "\\{2,1\\}", True),
    ("\\infty", "\\infty", True),
    ("-\\infty", "\\infty", False),
    ("\\frac{7}{2}", "3.5", True),
    ("3.5", "\\frac{7}{3}", False),
    ("6 \\sqrt{3}", "6\\sqrt3", True),
    ("\\sqrt{3}", "3", False),
    ("1.5\\%", "1.5", True),
    ("e", "e", True),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
    ("100", "10^2", True),
    ("10^{2}", "1000", False),
    ("\\text{(A)}", "\\text{(A)}", True),
    ("\\text{(B)}", "\\text{(A)}", False),
    ("", "5", False),
    ("\\boxed{5}", "6", False),
    ("12345678901234567890", "12345678901234567891", False),
    ("-\\frac{1}{2}", "-0.5", True),
]


@pytest.mark.parametrize("predicted, reference, expected", CASES)
def test_tricky_equivalences(predicted, reference, expected):
    assert math_equal(predicted, reference) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("\\boxed{a} then \\boxed{\\{1,\\{2\\}\\}}", "\\{1,\\{2\\}\\}"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5.", "5"),
        ("\\boxed{unbalanced", None),
        ("\\boxed{3} and \\boxed{4", "3"),
        ("no box here 12", None),
        ("\\boxed{}", ""),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


def test_math_scorer_reads_the_answer_after_thinking():
    assert score_response("math", "<think>maybe \\boxed{3}</think>So \\boxed{4}", "4").correct
    assert not score_response("math", "<think>so \\boxed{4}</think>I am not sure", "4").correct
    assert score_response("math", "<think>so \\boxed{4}", "4").truncated


def test_pathological_input_costs_at_most_the_time_limit():
    checker = SandboxedChecker(WORKER_MODULE, time_limit=2.0)
    try:
        checker.call("1", "1")  # worker started and ready
        started = time.monotonic()
        assert checker.call("1", "10^{10^{10^{10}}}") is False
        assert time.monotonic() - started < 2.0 + 1.0  # the limit, plus killing the worker and starting the next
        assert checker.timeouts == 1
        assert checker.call("\\frac{1}{2}", "0.5") is True  # restarted, still works
    finally:
        checker.close()


ADVERSARIAL = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="{}\\^_()[]0123456789+-*/=,.xe$ ", max_size=300),
    st.integers(1, 60).map(lambda depth: "{" * depth + "1" + "}" * depth),
    st.integers(1, 6).map(lambda depth: "10^{" * depth + "10" + "}" * depth),
    st.integers(1, 5000).map(lambda n: "9" * n),
    st.integers(1, 200).map(lambda n: "\\frac{" * n + "1}{2}" * n),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(predicted=ADVERSARIAL, reference=st.sampled_from(["5", "\\frac{1}{2}", "(1,2)", "x^2", "\\text{Evelyn}"]))
def test_checker_never_raises_and_never_exceeds_the_limit(predicted, reference):
    from rac_bench.scoring import math_answer

    checker = math_answer.checker()
    checker.last_check_seconds = 0.0
    result = score_response("math", f"</think>\\boxed{{{predicted}}}", reference)
    assert isinstance(result.correct, bool)
    # the check itself; a worker restarted after an earlier timeout imports outside the limit
    assert checker.last_check_seconds < checker.time_limit + 0.5

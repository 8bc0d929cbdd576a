import pytest

from rac_bench.scoring import score_response
from rac_bench.scoring.integer import extract_integer
from rac_bench.scoring.thinking import split_thinking


@pytest.mark.parametrize(
    "response, thinking, answer, closed",
    [
        ("<think>1+2=3</think>3", "<think>1+2=3</think>", "3", True),
        ("1+2=3</think>3", "1+2=3</think>", "3", True),  # template opened <think> in the prompt
        ("<think>a</think>b</think>c", "<think>a</think>b</think>", "c", True),  # the last close counts
        ("<think>1+2=3;3+4=", "<think>1+2=3;3+4=", "", False),
        ("", "", "", False),
    ],
)
def test_split_thinking(response, thinking, answer, closed):
    split = split_thinking(response)
    assert (split.thinking, split.answer, split.closed) == (thinking, answer, closed)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("42", "42"),
        ("The answer is 7.", "7"),
        ("x 3 then 12", "12"),
        ("-1", "-1"),
        ("1,024", "1024"),
        ("007", "7"),
        ("none", None),
        ("", None),
    ],
)
def test_extract_integer(text, expected):
    assert extract_integer(text) == expected


def test_score_response_counts_unclosed_thinking_as_truncated_and_wrong_and_grades_any_closed_answer():
    assert score_response("integer", "<think>1+2=3</think>3", "3").correct
    assert not score_response("integer", "<think>1+2=3</think>4", "3").correct
    unclosed = score_response("integer", "<think>1+2=3 so 3", "3")
    assert unclosed.truncated and not unclosed.correct
    # whether the token limit cut it or not, a closed answer is graded on what it holds (one rule everywhere)
    cut = score_response("math", "<think>so 4</think>The answer is \\boxed{4", "4")
    assert not cut.truncated and not cut.correct


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so \\boxed{C}", "C"),
        ("\\boxed{\\text{(b)}}", "B"),
        ("The answer is (D).", "D"),
        ("Answer: A", "A"),
        ("between A and B, I pick C", "C"),
        ("\\boxed{42}", None),
        ("no letter here", None),
    ],
)
def test_extract_letter(text, expected):
    from rac_bench.scoring.choice import extract_letter

    assert extract_letter(text) == expected


def test_multiple_choice_scorer():
    assert score_response("multiple_choice", "<think>hmm</think>\\boxed{B}", "B").correct
    assert not score_response("multiple_choice", "<think>hmm</think>\\boxed{A}", "B").correct

"""The math answer rules of `rac_bench.scoring`, each class in both directions: forms that are one answer, and
forms a widened rule would wrongly accept. Whole responses go through `score_response`, as in evaluation.

Where a row's expectation comes from math-verify's own tests (github.com/huggingface/Math-Verify, tests/), the
comment names the file."""

import pytest

from rac_bench.scoring import score_response
from rac_bench.scoring.boxes import final_boxes
from rac_bench.scoring.choice import extract_letter
from rac_bench.scoring.integer import extract_integer
from rac_bench.scoring.latex import normalize_answer
from rac_bench.scoring.string_rules import decide

THOUSANDS = [
    ("\\boxed{10,200}", "10200", True),
    ("\\boxed{10{,}200}", "10200", True),
    ("\\boxed{10,\\!200}", "10200", True),
    ("\\boxed{7,425,000}", "7425000", True),  # math-verify tests/test_all.py
    ("\\boxed{1,000.5}", "1000.5", True),
    ("\\boxed{58500}", "58,500", True),  # MATH-500 writes some answers with separators
    ("\\boxed{10, 200}", "10200", False),  # a list, not a number
    ("\\boxed{3, 100}", "3100", False),
    ("\\boxed{10,\\,200}", "10200", False),  # a spaced comma is a list
    ("\\boxed{10,20}", "1020", False),  # groups of three digits only
    ("\\boxed{0,500}", "500", False),
    ("\\boxed{10200}", "10, 200", False),
    ("\\boxed{1,-2}", "1, -2", True),  # a gold list keeps the commas of the answer
]
VARIABLES = [
    ("\\boxed{x = 5}", "x=5", True),
    ("\\boxed{x = 5}", "5", True),  # an assignment against a value: its right-hand side, as math-verify
    ("\\boxed{5}", "x = 5", True),
    ("\\boxed{y = 2x + 3}", "y = 2x+3", True),
    ("\\boxed{2x + 3}", "y = 2x + 3", True),
    ("\\boxed{\\theta = \\frac{\\pi}{2}}", "\\frac{\\pi}{2}", True),
    ("\\boxed{y = 5}", "x = 5", False),
    ("\\boxed{k = 5}", "x = 5", False),
    ("\\boxed{x = 6}", "5", False),
    ("\\boxed{x = 2x + 3}", "y = 2x + 3", False),
    ("\\boxed{x=1, y=2}", "x=2, y=1", False),  # math-verify tests/test_all.py
]
SEVERAL_BOXES = [
    ("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}", "(2, 2), (6, 2)", True),
    ("\\boxed{1},\\boxed{2},\\boxed{3}", "\\{1,2,3\\}", True),
    ("$\\boxed{1}$ and $\\boxed{2}$", "1, 2", True),
    ("\\boxed{(6, 2)}, \\boxed{(2, 2)}", "(2, 2), (6, 2)", True),  # a set of pairs, in any order
    ("\\boxed{5} \\quad \\boxed{5}", "5", True),  # the same box twice is one answer
    ("I first got \\boxed{3}. Checking the algebra again, the answer is \\boxed{4}", "4", True),
    ("\\boxed{2} and \\boxed{3}", "3", False),  # two answers are not the answer
    ("\\boxed{1},\\boxed{2}", "\\{1,2,3\\}", False),
    ("\\boxed{(2, 2)} and \\boxed{(6, 3)}", "(2, 2), (6, 2)", False),
    ("\\boxed{10}, \\boxed{200}", "10200", False),
    ("I first got \\boxed{3}. Checking the algebra again, the answer is \\boxed{4}", "3, 4", False),
]
PERCENT_AND_UNITS = [
    ("\\boxed{28 percent}", "28\\%", True),
    ("\\boxed{28 pct}", "28\\%", True),
    ("\\boxed{28\\text{ percent}}", "28\\%", True),
    ("\\boxed{28\\%}", "28", True),
    ("\\boxed{5 \\text{ cm}}", "5", True),
    ("\\boxed{12 inches}", "12", True),
    ("\\boxed{12 \\text{ square feet}}", "12", True),
    ("\\boxed{30 degrees}", "30^\\circ", True),
    ("\\boxed{\\$32{,}348}", "\\$32,\\!348", True),
    ("\\boxed{\\frac{270}{7}}", "\\frac{270}7\\text{ degrees}", True),
    ("\\boxed{29 percent}", "28\\%", False),
    ("\\boxed{2.8 pct}", "28\\%", False),
    ("\\boxed{0.28}", "28\\%", False),  # numbers are exact: 28% is written 28 in the datasets
    ("\\boxed{6 \\text{ cm}}", "5", False),
    ("\\boxed{13 \\text{ square feet}}", "12", False),
    ("\\boxed{30^\\circ}", "60", False),
]
CONNECTORS = [
    ("\\boxed{2 \\quad \\text{and} \\quad 3}", "2, 3", True),
    ("\\boxed{2 \\text{ and } 3}", "3, 2", True),
    ("\\boxed{(2, 2) \\text{ and } (6, 2)}", "(2, 2), (6, 2)", True),
    ("\\boxed{1 and 2}", "1, 2", True),
    ("\\boxed{2 \\quad 3}", "23", False),  # never glued into one number
    ("\\boxed{2 \\text{ and } 3}", "23", False),
    ("\\boxed{2 and 4}", "2, 3", False),
    ("\\boxed{1 \\text{ and } 2}", "1", False),
]
LEADING_ZEROS = [
    ("\\boxed{016}", "16", True),
    ("\\boxed{004}", "4", True),  # math-verify tests/test_boxed.py
    ("\\boxed{000}", "0", True),
    ("\\boxed{-05}", "-5", True),
    ("\\boxed{016}", "160", False),
    ("\\boxed{0016}", "61", False),
    ("\\boxed{016}", "-16", False),
]
EXACT_NUMBERS = [
    ("\\boxed{\\frac{7}{2}}", "3.5", True),
    ("\\boxed{-\\frac{1}{2}}", "\\frac{-1}{2}", True),
    ("\\boxed{7/2}", "\\dfrac{7}{2}", True),
    ("\\boxed{\\frac{2}{4}}", "\\frac{1}{2}", True),
    ("\\boxed{.5}", "0.50", True),
    ("\\boxed{0.1234567}", "0.1234568", False),  # math-verify's rounding would accept this
    ("\\boxed{0.333333}", "\\frac{1}{3}", False),
    ("\\boxed{\\frac{1}{0}}", "1", False),
    ("\\boxed{" + "9" * 2000 + "}", "9" * 1999 + "8", False),  # past the exact-arithmetic length, still exact
]
ALL_RULES = THOUSANDS + VARIABLES + SEVERAL_BOXES + PERCENT_AND_UNITS + CONNECTORS + LEADING_ZEROS + EXACT_NUMBERS


def test_every_class_is_checked_in_both_directions():
    for rules in (THOUSANDS, VARIABLES, SEVERAL_BOXES, PERCENT_AND_UNITS, CONNECTORS, LEADING_ZEROS, EXACT_NUMBERS):
        assert {expected for _, _, expected in rules} == {True, False}
    assert len(ALL_RULES) >= 60


@pytest.mark.parametrize("answer, reference, expected", ALL_RULES)
def test_math_rule(answer, reference, expected):
    score = score_response("math", f"<think>working</think>So the answer is {answer}.", reference)
    assert score.correct is expected, score


@pytest.mark.parametrize(
    "predicted, gold, decision",
    [
        ("5", "5", True),
        ("x = 5", "y = 5", False),
        ("10, 200", "10200", False),
        ("\\frac{7}{2}", "3.5", True),
        ("x^2", "(x)^2", None),  # only math-verify can tell
        ("2x + 3", "y = 2x + 3", None),
    ],
)
def test_string_rules_defer_when_unsure(predicted, gold, decision):
    assert decide(normalize_answer(predicted), normalize_answer(gold)) is decision


@pytest.mark.parametrize(
    "text, boxes",
    [
        ("\\boxed{1}, \\boxed{2}", ["1", "2"]),
        ("\\[ \\boxed{1} \\] and \\[ \\boxed{2} \\]", ["1", "2"]),
        ("\\boxed{1} because the second case gives \\boxed{2}", ["2"]),
        ("\\boxed{\\boxed{5}}", ["5"]),
        ("\\boxed{\\{1, 2\\}}", ["\\{1, 2\\}"]),
        ("\\boxed {7}", ["7"]),
        ("\\boxed{3} and \\boxed{4", ["3"]),  # an unclosed box is no answer
        ("\\boxed{", []),
        ("\\boxedx{3}", []),
    ],
)
def test_final_boxes(text, boxes):
    assert final_boxes(text) == boxes


@pytest.mark.parametrize(
    "text, expected",
    [("3,100", "3100"), ("1,024 then 10,20", "20"), ("-7", "-7"), ("12,3456", "3456"), ("9" * 5000, None)],
)
def test_extract_integer_joins_only_thousands_groups(text, expected):
    assert extract_integer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The answer is (b).", "B"),
        ("**Answer:** C", "C"),
        ("the answer is a prime, so (D)", "D"),  # "a" is a word here, not choice A
        ("answer" + " " * 30 + "is B", "B"),
    ],
)
def test_extract_letter_forms(text, expected):
    assert extract_letter(text) == expected

"""What comparing two normalised answers as strings can decide for certain, and when it must defer.

`decide` answers True only when the normalised strings are identical or exact arithmetic proves the values
equal, False only when the values certainly differ, and None otherwise (then math-verify decides). Numbers
are compared exactly (`0.1234567` is not `0.1234568`, which math-verify's rounding would accept), `x = 5` is
not `y = 5`, and a list is never a number.
"""

from __future__ import annotations

import re
from fractions import Fraction

from rac_bench.scoring.latex import canonical_number, is_list

MAX_EXACT_CHARS = 1000  # Python parses integers of up to 4300 digits; longer numbers compare as strings
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN = re.compile(_NUMBER)
_CANONICAL = re.compile(r"-?\d+(?:\.\d+)?")  # what canonical_number writes: one string per value
_FRACTION = re.compile(rf"([-+]?)\\frac\{{({_NUMBER})\}}\{{({_NUMBER})\}}")
_SLASH = re.compile(rf"({_NUMBER})/({_NUMBER})")
_ASSIGNMENT = re.compile(r"([A-Za-z]|\\[A-Za-z]+) ?= ?([^=]+)")  # `x = 5`, `\theta = \pi`: one variable


def comparison_key(normalized: str) -> str:
    """Spaces do not matter in LaTeX math: `(1, 2)` and `(1,2)` are one answer, `10 200` is `10200`."""
    return canonical_number(normalized.replace(" ", ""))


def exact_value(key: str) -> Fraction | None:
    """The exact rational an integer, decimal or numeric fraction (`\\frac{7}{2}`, `-7/2`) stands for."""
    if len(key) > MAX_EXACT_CHARS:
        return None
    if _PLAIN.fullmatch(key):
        return Fraction(key)
    fraction = _FRACTION.fullmatch(key)
    if fraction:
        sign, numerator, denominator = fraction.groups()
    else:
        slash = _SLASH.fullmatch(key)
        if slash is None:
            return None
        (numerator, denominator), sign = slash.groups(), ""
    if Fraction(denominator) == 0:
        return None
    value = Fraction(numerator) / Fraction(denominator)
    return -value if sign == "-" else value


def _assignment(normalized: str) -> tuple[str, str] | None:
    match = _ASSIGNMENT.fullmatch(normalized)
    return (match.group(1), match.group(2).strip()) if match else None


def decide(predicted: str, gold: str) -> bool | None:
    """True or False where the strings settle it; None where only math-verify can tell."""
    predicted_key, gold_key = comparison_key(predicted), comparison_key(gold)
    if predicted_key == gold_key:
        return True
    predicted_value, gold_value = exact_value(predicted_key), exact_value(gold_key)
    if predicted_value is not None and gold_value is not None:
        return predicted_value == gold_value
    if _CANONICAL.fullmatch(predicted_key) and _CANONICAL.fullmatch(gold_key):
        return False  # long numbers in canonical form: different strings, different values
    predicted_assignment, gold_assignment = _assignment(predicted), _assignment(gold)
    if predicted_assignment and gold_assignment:
        if predicted_assignment[0] != gold_assignment[0]:
            return False  # x = 5 is not y = 5
        return decide(predicted_assignment[1], gold_assignment[1])
    # math-verify's rule: an assignment against a value is compared by its right-hand side
    if predicted_assignment and gold_value is not None:
        return decide(predicted_assignment[1], gold)
    if gold_assignment and predicted_value is not None:
        return decide(predicted, gold_assignment[1])
    if (predicted_value is not None and is_list(gold_key)) or (gold_value is not None and is_list(predicted_key)):
        return False  # a list is never a number: `10, 200` is not `10200`
    return None

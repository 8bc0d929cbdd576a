"""Rewrite a math answer into a canonical LaTeX string, so that forms the datasets treat as one answer compare
equal as strings. Each step removes notation only (spacing, `\\text{}`, units, percent signs, separators);
none turns two different values into one. See the rules in `rac_bench.scoring`.

Every pattern here runs in time linear in its input: whitespace is collapsed to single spaces first, so no
two quantifiers compete for the same characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_UNIT_WORDS = (
    r"degrees?|cm|km|mm|inches|inch|feet|foot|ft|units?|cents?|dollars?|hours?|minutes?|seconds?|days?|weeks?|"
    r"years?|miles?|meters?|metres?|mph|pounds?|ounces?|grams?|kg|liters?|litres?|ml|students?|people|ways|points?"
)
_STEPS: list[tuple[re.Pattern, str | Callable]] = [
    (re.compile(r"\\[dtc]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r",\s?\\!\s?"), "{,}"),  # 10,\!080: a thousands separator, never a list
    (re.compile(r"\\(?:left|right|displaystyle)(?![A-Za-z])|\\!"), ""),
    (re.compile(r"(\\\\)|\\[,;: ]|~"), lambda m: m.group(1) or " "),  # \\ (a new row) stays
    (re.compile(r"\\q?quad(?![A-Za-z])"), ","),  # `2 \quad 3` is two answers, never 23
    (re.compile(r"\\\$"), ""),
    (re.compile(r"\^ ?\{? ?\\circ ?\}?|°|\\degree(?![A-Za-z])"), ""),
    (re.compile(r"\\?%"), ""),
    (re.compile(r"\\(?:text|textbf|textrm|textnormal|mbox|mathrm|mathbf)\s?\{((?:[^{}]|\{[^{}]*\})*)\}"), r" \1 "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"(?<=[\d}]) ?(?:percent|per cent|pct)(?![A-Za-z])"), ""),
    (re.compile(rf"(?<=[\d}}]) ?(?:(?:square|sq|cubic) )?(?:{_UNIT_WORDS})(?: ?\^\{{?[23]\}}?)?\.? ?$"), ""),
]
_THOUSANDS = re.compile(r"(?:[A-Za-z] ?= ?)?-?[1-9]\d{0,2}(?:(?:,|\{,\})\d{3})+(?:\.\d+)?")  # x = 1,000 too
_AND = re.compile(r"(?<![A-Za-z\\])and(?![A-Za-z])")
_COMMA_RUN = re.compile(r"(?<=,) ?,| (?=,)")  # `2 , , 3` -> `2, 3`; a single comma is kept as written
_SHORT_FRACTIONS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\\frac ?(\d) ?(\d)"), r"\\frac{\1}{\2}"),  # \frac12
    (re.compile(r"\\frac ?(\d) ?\{"), r"\\frac{\1}{"),  # \frac1{2}
    (re.compile(r"\\frac ?\{([^{}]*)\} ?(\d)"), r"\\frac{\1}{\2}"),  # \frac{1}2
    (re.compile(r"\\sqrt ?(\d)"), r"\\sqrt{\1}"),  # \sqrt2 (one digit, as in LaTeX)
]
_DECIMAL = re.compile(r"(-?)(\d*)(?:\.(\d*))?")
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _strip_delimiters(text: str) -> str:
    """`$5$`, `$$5$$`, `\\(5\\)`, `\\[5\\]` -> `5`: one layer of each kind, so each costs one copy."""
    text = text.strip()
    for opening, closing in _DELIMITERS:
        if len(text) >= len(opening) + len(closing) and text.startswith(opening) and text.endswith(closing):
            text = text[len(opening) : -len(closing)].strip()
    return text


def canonical_number(text: str) -> str:
    """`016` -> `16`, `-0` -> `0`, `2.50` -> `2.5`, `.5` -> `0.5`; anything that is not a plain number is kept."""
    match = _DECIMAL.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        return text
    sign, whole, fraction = match.group(1), match.group(2).lstrip("0") or "0", (match.group(3) or "").rstrip("0")
    number = f"{whole}.{fraction}" if fraction else whole
    return number if number == "0" else sign + number


def is_list(text: str) -> bool:
    """A comma outside every bracket: `1, 2` and `(1, 2), (3, 4)` are lists, `(1, 2)` and `\\{1, 2\\}` are not."""
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth <= 0:
            return True
    return False


def normalize_answer(answer: str, separators_allowed: bool = True) -> str:
    """A canonical form of `answer`, single-spaced so that math-verify can still read it. With
    `separators_allowed`, an answer that is exactly one number written with thousands separators
    (`1,000`, `10{,}080`, `10,\\!080`, `x = 1,000`) loses them; `10, 200` (a space) is always a list."""
    text = _strip_delimiters(re.sub(r"\s+", " ", answer))
    for pattern, replacement in _STEPS:
        text = pattern.sub(replacement, text)
    text = text.strip()
    if separators_allowed and _THOUSANDS.fullmatch(text):
        text = text.replace("{,}", "").replace(",", "")
    text = text.replace("{,}", ",")
    text = _COMMA_RUN.sub("", _AND.sub(",", text)).strip(" ,")
    for pattern, replacement in _SHORT_FRACTIONS:
        text = pattern.sub(replacement, text)
    return canonical_number(text.rstrip(".").strip())

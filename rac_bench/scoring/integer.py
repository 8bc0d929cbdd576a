"""Integer answers (the embedded task): the last integer in the answer text.

A comma joins digits only as a thousands separator: groups of exactly three digits after a first group of one
to three (`1,024`). In `1,2` or `10,20` the last integer is the last group.
"""

from __future__ import annotations

import re

_DIGITS_AND_COMMAS = re.compile(r"-?\d+(?:,\d+)*")  # linear: a comma always separates two digit runs
_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(?:,\d{3})+")


def extract_integer(answer: str) -> str | None:
    matches = _DIGITS_AND_COMMAS.findall(answer)
    if not matches:
        return None
    last = matches[-1]
    digits = last.replace(",", "") if _THOUSANDS.fullmatch(last) else last.rsplit(",", 1)[-1]
    try:
        return str(int(digits))
    except ValueError:  # more digits than Python parses
        return None


def integers_equal(extracted: str | None, reference: str) -> bool:
    if extracted is None:
        return False
    try:
        return int(extracted) == int(str(reference).strip())
    except ValueError:
        return False

"""Integer answers (the embedded task, AIME, AMC): the last integer in the answer text."""

from __future__ import annotations

import re

_INTEGER = re.compile(r"-?\d[\d,]*")


def extract_integer(answer: str) -> str | None:
    matches = _INTEGER.findall(answer)
    if not matches:
        return None
    digits = matches[-1].replace(",", "")
    try:
        return str(int(digits))
    except ValueError:
        return None


def integers_equal(extracted: str | None, reference: str) -> bool:
    if extracted is None:
        return False
    try:
        return int(extracted) == int(str(reference).strip())
    except ValueError:
        return False

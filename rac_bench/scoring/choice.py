"""Multiple-choice answers (GPQA): the chosen letter A-D."""

from __future__ import annotations

import re

from rac_bench.scoring.math_answer import extract_boxed

_STATED = re.compile(r"answer\s*(?:is|:)?\s*[:\s]*\(?\**\s*([A-D])\b", re.IGNORECASE)
_LONE = re.compile(r"(?<![A-Za-z])\(?([A-D])\)?(?![A-Za-z])")


def extract_letter(answer: str) -> str | None:
    """The letter in the last \\boxed{}, else after the last 'answer is', else the last lone A-D."""
    boxed = extract_boxed(answer)
    if boxed is not None:
        match = re.fullmatch(r"\s*(?:\\text\{)?\(?([A-Da-d])\)?\}?\s*", boxed)
        return match.group(1).upper() if match else None
    stated = _STATED.findall(answer)
    if stated:
        return stated[-1].upper()
    lone = _LONE.findall(answer)
    return lone[-1] if lone else None


def letters_equal(extracted: str | None, reference: str) -> bool:
    return extracted is not None and extracted == str(reference).strip().upper()

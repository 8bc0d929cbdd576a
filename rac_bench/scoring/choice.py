"""Multiple-choice answers (GPQA): the chosen letter A-D.

Linear in the answer's length: "answer" is found by a plain search and only a short window after each
occurrence is matched, with bounded repetitions.
"""

from __future__ import annotations

import re

from rac_bench.scoring.boxes import extract_boxed

_ANSWER_WORD = re.compile(r"answer", re.IGNORECASE)
_STATED_WINDOW = 40
# after "answer": " is: **(C" or " is (c)"; a lower-case letter only in brackets (not "the answer is a prime")
_STATED = re.compile(r"[\s:*(]{0,12}(?:[Ii][Ss]\b)?[\s:*]{0,12}(?:\(?([A-D])\b|\(([a-d])\))")
_LONE = re.compile(r"(?<![A-Za-z])\(?([A-D])\)?(?![A-Za-z])")
_BOXED_LETTER = re.compile(r"(?:\\text\{)?\(?([A-Da-d])\)?\}?")


def _last_stated(answer: str) -> str | None:
    letter = None
    for word in _ANSWER_WORD.finditer(answer):
        stated = _STATED.match(answer[word.end() : word.end() + _STATED_WINDOW])
        letter = (stated.group(1) or stated.group(2).upper()) if stated else letter
    return letter


def extract_letter(answer: str) -> str | None:
    """The letter in the last \\boxed{}, else after the last 'answer is', else the last lone A-D."""
    boxed = extract_boxed(answer)
    if boxed is not None:
        match = _BOXED_LETTER.fullmatch(boxed.strip())
        return match.group(1).upper() if match else None
    stated = _last_stated(answer)
    if stated:
        return stated
    lone = _LONE.findall(answer)
    return lone[-1] if lone else None


def letters_equal(extracted: str | None, reference: str) -> bool:
    return extracted is not None and extracted == str(reference).strip().upper()

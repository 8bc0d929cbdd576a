"""Math answers: read the final boxed answer, normalise both sides, decide equivalence.

Equivalence is decided first by the string rules (most answers are settled there, instantly), then by
math-verify's symbolic comparison in a sandboxed worker under a time and a memory limit. Raw model text never
reaches eval or an unsafe sympify.
"""

from __future__ import annotations

import atexit

from rac_bench.scoring.boxes import final_boxes
from rac_bench.scoring.latex import is_list, normalize_answer
from rac_bench.scoring.sandbox import SandboxedChecker
from rac_bench.scoring.string_rules import comparison_key, decide

MAX_SYMBOLIC_LENGTH = 1000  # longer answers are compared as strings only
WORKER_MODULE = "rac_bench.scoring.math_verify_check"


def extract_math_answer(text: str) -> str | None:
    """The final boxed answer; boxes written one after another (`\\boxed{1}, \\boxed{2}`) are one list answer,
    the same box repeated is one answer."""
    boxes = final_boxes(text)
    if not boxes:
        return None
    return boxes[0] if len(set(boxes)) == 1 else ", ".join(boxes)


_CHECKER: SandboxedChecker | None = None


def checker() -> SandboxedChecker:
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = SandboxedChecker(WORKER_MODULE)
        atexit.register(_CHECKER.close)
    return _CHECKER


def math_equal(extracted: str | None, reference: str) -> bool:
    if extracted is None:
        return False
    gold = normalize_answer(str(reference))
    predicted = normalize_answer(extracted, separators_allowed=not is_list(gold))
    if not comparison_key(predicted):
        return False
    decision = decide(predicted, gold)
    if decision is not None:
        return decision
    if len(predicted) > MAX_SYMBOLIC_LENGTH or len(gold) > MAX_SYMBOLIC_LENGTH:
        return False
    return bool(checker().call(gold, predicted))

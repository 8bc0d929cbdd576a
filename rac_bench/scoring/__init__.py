"""Answer checking: split off the thinking, extract the answer, decide equivalence. Scorers by name.

No false accepts, by design: a string rule may only remove notation, compare exact numbers, or reject; where
it is not sure it defers to math-verify, and it never widens a match. The math rules:

- The answer is the last `\\boxed{}` (or `\\fbox{}`) after `</think>`. Boxes one after another, separated only
  by connectors (`,`, `\\quad`, `\\text{and}`, "and"), are one answer, a list: `\\boxed{1},\\boxed{2}` is `1, 2`
  (and `\\boxed{5} \\quad \\boxed{5}` is `5`).
- Notation removed on both sides: `$`, `\\left`/`\\right`, spacing, `\\text{}` wrappers, `\\dfrac`/`\\tfrac`,
  degrees, `\\$`, percent signs and words (`\\%`, `percent`, `pct`), units after a number (`5 \\text{ cm}`),
  `\\frac12` and `\\sqrt2`, leading zeros (`016` is `16`) and trailing decimal zeros. Spaces never matter.
- Connectors inside an answer (`\\quad`, `\\text{and}`, "and") are commas: `2 \\text{ and } 3` is the list `2, 3`.
- Thousands separators (`1,000`, `10{,}080`, `10,\\!080`) are removed only where a list is impossible: the
  answer is one number in that exact form and the gold answer is not a list. `10, 200` is always a list,
  and a list never equals a number.
- Integers, decimals and numeric fractions are compared exactly (`0.333333` is not `\\frac{1}{3}`).
- `x = 5` is not `y = 5`; an assignment against a value compares its right-hand side (`x = 5` is `5`), as
  math-verify does.
- Anything else goes to math-verify in a worker limited in time and memory; answers over 1,000 characters
  are compared as strings only.

Every step that reads model output is linear in its length (`boxes.py`, `latex.py`, `choice.py`), and only
the last `MAX_ANSWER_CHARS` characters of the answer are read; `Score.clipped_to` records when that cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rac_bench.errors import ConfigError
from rac_bench.scoring.choice import extract_letter, letters_equal
from rac_bench.scoring.integer import extract_integer, integers_equal
from rac_bench.scoring.math_answer import extract_math_answer, math_equal
from rac_bench.scoring.thinking import split_thinking

MAX_ANSWER_CHARS = 20_000  # a longer answer (after </think>) is scored on its tail: the final answer is last


@dataclass(frozen=True)
class Score:
    extracted: str | None
    correct: bool
    truncated: bool
    clipped_to: int | None = None  # MAX_ANSWER_CHARS when only the answer's tail was read


@dataclass(frozen=True)
class Scorer:
    extract: Callable[[str], str | None]
    equal: Callable[[str | None, str], bool]


SCORERS: dict[str, Scorer] = {
    "integer": Scorer(extract_integer, integers_equal),
    "math": Scorer(extract_math_answer, math_equal),
    "multiple_choice": Scorer(extract_letter, letters_equal),
}


def get_scorer(name: str) -> Scorer:
    if name not in SCORERS:
        raise ConfigError(f"unknown scorer {name!r}; available: {', '.join(sorted(SCORERS))}")
    return SCORERS[name]


def correct_if_read_leniently(scorer_name: str, response: str, reference: str) -> bool:
    """Whether a truncated response's last answer-like text (its tail, read as if the thinking had closed) is the
    reference: what the accuracy on truncated responses reports. Never part of the accuracy itself."""
    scorer = get_scorer(scorer_name)
    extracted = scorer.extract(response[-MAX_ANSWER_CHARS:])
    return scorer.equal(extracted, reference)


def score_response(scorer_name: str, response: str, reference: str, opened_in_prompt: bool = True) -> Score:
    """The one truncation rule, for the leaderboard, the task YAMLs and every export: a response that never closed
    </think> is truncated and counted wrong; one that closed it is graded on its answer, also when the token limit
    then cut the answer (as MATH-500 graders do; the leaderboard reports that share as its own column). A model
    whose template does not open <think> (`opened_in_prompt` False) and that wrote none answered without thinking:
    the whole response is its answer (rac_bench.scoring.thinking)."""
    scorer = get_scorer(scorer_name)
    split = split_thinking(response, opened_in_prompt)
    if not split.closed:
        return Score(extracted=None, correct=False, truncated=True)
    answer, clipped_to = split.answer, None
    if len(answer) > MAX_ANSWER_CHARS:
        answer, clipped_to = answer[-MAX_ANSWER_CHARS:], MAX_ANSWER_CHARS
    extracted = scorer.extract(answer)
    return Score(extracted, scorer.equal(extracted, reference), truncated=False, clipped_to=clipped_to)

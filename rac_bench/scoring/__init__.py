"""Answer checking: split off the thinking, extract the answer, decide equivalence. Scorers by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rac_bench.errors import ConfigError
from rac_bench.scoring.choice import extract_letter, letters_equal
from rac_bench.scoring.integer import extract_integer, integers_equal
from rac_bench.scoring.math_answer import extract_boxed, math_equal
from rac_bench.scoring.thinking import split_thinking


@dataclass(frozen=True)
class Score:
    extracted: str | None
    correct: bool
    truncated: bool


@dataclass(frozen=True)
class Scorer:
    extract: Callable[[str], str | None]
    equal: Callable[[str | None, str], bool]


SCORERS: dict[str, Scorer] = {
    "integer": Scorer(extract_integer, integers_equal),
    "math": Scorer(extract_boxed, math_equal),
    "multiple_choice": Scorer(extract_letter, letters_equal),
}


def get_scorer(name: str) -> Scorer:
    if name not in SCORERS:
        raise ConfigError(f"unknown scorer {name!r}; available: {', '.join(sorted(SCORERS))}")
    return SCORERS[name]


def score_response(scorer_name: str, response: str, reference: str, hit_token_limit: bool = False) -> Score:
    """A response that hit the token limit or never closed </think> is truncated and counted wrong."""
    split = split_thinking(response)
    if hit_token_limit or not split.closed:
        return Score(extracted=None, correct=False, truncated=True)
    scorer = get_scorer(scorer_name)
    extracted = scorer.extract(split.answer)
    return Score(extracted=extracted, correct=scorer.equal(extracted, reference), truncated=False)

"""Self-corrections in a response's thinking: how often a model doubts and redoes its own work. A damaged reasoning
model second-guesses itself more, so its rate rises with its thinking length.

Each task declares its counter (rac_bench.tasks). Here are the counter's type and the one real reasoning models get:
- `HESITATIONS`: hesitation markers ("wait", "hmm", "alternatively", "let me
  double-check", ...) as whole words, case-insensitive, reported per 1,000 thinking tokens. The list is
  configurable (`evaluation.hesitation_markers`).
The embedded task counts its failed self-checks instead (rac_bench.zoo.arithmetic.RETRIES). A counter reads model
output, so it must be linear in its length: a literal scan, no backtracking pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from rac_bench.scoring.thinking import split_thinking

DEFAULT_HESITATION_MARKERS = (
    "wait",
    "hmm",
    "alternatively",
    "let me double-check",
    "let me check",
    "let me verify",
    "on second thought",
)


@lru_cache(maxsize=8)
def _marker_pattern(markers: tuple[str, ...]) -> re.Pattern:
    """Literal words joined: the regex engine tries each literal at each position, so matching is linear."""
    return re.compile(r"\b(?:" + "|".join(re.escape(m.lower()) for m in markers) + r")\b")


def count_hesitations(response: str, markers: tuple[str, ...] = DEFAULT_HESITATION_MARKERS) -> int:
    return len(_marker_pattern(tuple(markers)).findall(split_thinking(response).thinking.lower()))


@dataclass(frozen=True)
class SelfCorrectionCounter:
    count: Callable[[str, tuple[str, ...]], int]  # (response, the run's hesitation markers) -> count
    per_thinking_tokens: int | None  # report per this many thinking tokens; None: per response
    unit: str


HESITATIONS = SelfCorrectionCounter(count_hesitations, 1000, "hesitations per 1k thinking tokens")

"""Split a reasoning model's response into its chain of thought and its answer.

The answer is what follows the last `</think>`. Templates that open `<think>` inside the prompt (DeepSeek-R1)
leave no opening tag in the response, so only the closing tag is required. A response that never closes its
thinking has no answer.
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class SplitResponse:
    thinking: str
    answer: str
    closed: bool


def split_thinking(response: str) -> SplitResponse:
    head, separator, tail = response.rpartition(THINK_CLOSE)
    if not separator:
        return SplitResponse(thinking=response, answer="", closed=False)
    return SplitResponse(thinking=head + separator, answer=tail, closed=True)

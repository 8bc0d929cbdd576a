"""Split a reasoning model's response into its chain of thought and its answer.

The answer is what follows the last `</think>`. Whether a response without one is an unfinished thought or an
answer depends on the model's chat template, decided once per template (`opens_thinking_in_prompt`):
- a template that opens `<think>` inside the prompt (DeepSeek-R1 and its distills) leaves no opening tag in the
  response: every response is thinking until `</think>`, and one that never closes it has no answer;
- any other template (SmolLM2-Instruct, Llama, a model that opens `<think>` itself): a response that never wrote
  `<think>` did not think, and all of it is the answer; one that opened `<think>` and never closed it is unfinished.
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
THINKING_RULE = "by chat template"  # part of every cell key: cells scored by the earlier rule are not reused
_QUESTION = "RAC-BENCH-QUESTION-7f3a"  # stands for the user's message when a template is rendered
_OPENS: dict[str, bool] = {}  # chat template -> whether its generation prompt opens <think>


@dataclass(frozen=True)
class SplitResponse:
    thinking: str
    answer: str
    closed: bool


def split_thinking(response: str, opened_in_prompt: bool = True) -> SplitResponse:
    head, separator, tail = response.rpartition(THINK_CLOSE)
    if separator:
        return SplitResponse(thinking=head + separator, answer=tail, closed=True)
    if not opened_in_prompt and THINK_OPEN not in response:
        return SplitResponse(thinking="", answer=response, closed=True)  # no thinking at all: an answer
    return SplitResponse(thinking=response, answer="", closed=False)


def opens_thinking_in_prompt(tokenizer) -> bool:
    """Whether the tokenizer's chat template ends its generation prompt inside an open `<think>` (R1-style).
    A template that cannot be rendered keeps the strict reading (True); no template at all is False."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return False
    if template not in _OPENS:
        try:
            rendered = tokenizer.apply_chat_template(
                [{"role": "user", "content": _QUESTION}], add_generation_prompt=True, tokenize=False
            )
        except Exception:  # a template that needs more than one user message: keep the strict reading
            rendered = _QUESTION + THINK_OPEN
        prompt_tail = str(rendered).rpartition(_QUESTION)[2]
        _OPENS[template] = prompt_tail.rfind(THINK_OPEN) > prompt_tail.rfind(THINK_CLOSE)
    return _OPENS[template]


def thinking_rule(tokenizer) -> str:
    """How a model's responses were read, as recorded in its cells."""
    if opens_thinking_in_prompt(tokenizer):
        return "the prompt opens <think>: a response without </think> is unfinished"
    return "the model opens <think> itself: a response without <think> is an answer"

"""What every generation backend returns: text plus the engine's own token accounting and timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from rac_bench.scoring.thinking import THINK_OPEN, opens_thinking_in_prompt


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)
    top_k: int | None = None  # None: no top-k filter

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: tuple[int, ...]
    thinking_tokens: int  # up to and including </think>; all tokens when it never closes
    finish_reason: str  # "stop" (end of sequence or a stop string) or "length" (hit max_new_tokens)
    seconds: float  # wall time of the engine call that produced it
    first_token_seconds: float | None = None  # time to first token, where the engine reports it
    seconds_per_output_token: float | None = None  # decode time per token after the first, likewise

    @property
    def generated_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def answer_tokens(self) -> int:
        return self.generated_tokens - self.thinking_tokens


class GenerationBackend(Protocol):
    """A generation engine on one model. Every generation of a run, evaluation and RAC traces alike, goes
    through one of these, created by name from the registry in `rac_bench.backends`."""

    name: str
    chunk_size: int  # prompts per resumable chunk: one chunk is generated (and saved) at a time
    greedy_chunk_size: int  # the same for greedy requests, whose tokens no per-chunk seed decides
    startup_seconds: float  # engine start-up, reported beside evaluation time

    def generate(
        self, prompts: list[str], settings: SamplingSettings, finished: Callable[[int], None] | None = None
    ) -> list[Generation]:
        """One generation per prompt; `finished(n)` is called as sequences finish (a progress bar's update)."""

    def close(self) -> None:
        """Free the device for the next phase (and give the model back where it was); a pooled engine stays for
        the next variant until `rac_bench.backends.release_engines()`."""


def count_thinking_tokens(token_ids: list[int], tokenizer, think_close: str = "</think>") -> int:
    """Tokens up to and including the last </think>, read from the engine's ids. Uses the tag's own id when
    the vocabulary has one (R1, Qwen3, the embedded model); otherwise finds the shortest prefix whose decoded
    text contains the tag. Without one: every token (unfinished thinking), or none where the model did not think
    (rac_bench.scoring.thinking)."""
    close_id = tokenizer.convert_tokens_to_ids(think_close)
    if isinstance(close_id, int) and close_id != tokenizer.unk_token_id:
        positions = [i for i, token in enumerate(token_ids) if token == close_id]
        if positions:
            return positions[-1] + 1
    text = tokenizer.decode(token_ids)
    if think_close not in text:
        # no thinking at all where the template leaves opening <think> to the model and it wrote none
        return 0 if not (opens_thinking_in_prompt(tokenizer) or THINK_OPEN in text) else len(token_ids)
    low, high = 1, len(token_ids)
    target = text.count(think_close)
    while low < high:
        middle = (low + high) // 2
        if tokenizer.decode(token_ids[:middle]).count(think_close) >= target:
            high = middle
        else:
            low = middle + 1
    return low

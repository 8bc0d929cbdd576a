"""Prompt-only calibration (`prompts`): the prompt set's questions rendered with the chat template, generation
prompt included, exactly as evaluation renders them (with the tasks' instruction) unless the calibration
settings say otherwise (no instruction, a system prompt, another chat template, prompts cut to their last N
tokens). Questions are drawn until the token budget is met."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from rac_bench.calibration.prompt_sets import get_prompt_set, prompt_set_revision
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source
from rac_bench.errors import CalibrationError

if TYPE_CHECKING:  # imported where used: building a plan stays torch-free
    import torch


@dataclass(frozen=True)
class PromptRenderer:
    """How a calibration question becomes a prompt: the settings' instruction, system prompt, chat template and
    truncation, applied the same way for every prompt-based source."""

    tokenizer: object
    instruction: str | None = None
    system_prompt: str | None = None
    chat_template: str | None = None  # the template's text; None: the tokenizer's own
    max_tokens: int | None = None

    @classmethod
    def of(cls, tokenizer, settings) -> PromptRenderer:
        instruction = get_prompt_set(settings.prompts).instruction if settings.instruction else None
        template = settings.chat_template.read_text(encoding="utf-8") if settings.chat_template else None
        return cls(tokenizer, instruction, settings.system_prompt, template, settings.prompt_max_tokens)

    def text(self, question: str) -> str:
        content = f"{question}\n{self.instruction}" if self.instruction else question
        messages = [{"role": "user", "content": content}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, chat_template=self.chat_template
        )
        if self.max_tokens is None:
            return text
        ids = self.ids_of(text)
        return text if len(ids) <= self.max_tokens else self.tokenizer.decode(ids[-self.max_tokens :])

    def ids_of(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def ids(self, question: str) -> list[int]:
        return self.ids_of(self.text(question))


def render_until(
    renderer: PromptRenderer, texts: Iterable[str], budget: int, max_tokens: int | None = None
) -> tuple[list[torch.Tensor], int]:
    """Each text rendered as one user turn (its ids cut at `max_tokens`), in order, until their tokens reach
    `budget`; and the tokens gathered, fewer than `budget` when the texts ran out."""
    import torch

    sequences, tokens = [], 0
    for text in texts:
        sequences.append(torch.tensor(renderer.ids(text)[:max_tokens]))
        tokens += len(sequences[-1])
        if tokens >= budget:
            break
    return sequences, tokens


def template_hash(settings) -> str | None:
    """The chat template file's content hash (the model's own template is part of the model's fingerprint)."""
    return hashlib.sha256(settings.chat_template.read_bytes()).hexdigest()[:16] if settings.chat_template else None


def rendering_fingerprint(settings) -> dict:
    """How a user turn is rendered, for every source that renders one (questions, documents, trace-file prompts)."""
    return {
        "system_prompt": settings.system_prompt,
        "chat_template_sha256": template_hash(settings),
        "prompt_max_tokens": settings.prompt_max_tokens,
    }


def prompt_set_fingerprint(settings, seed: int, data_dir) -> dict:
    """Which questions the prompt-based sources (prompts, traces) draw, and how they are rendered."""
    return {
        "prompts": settings.prompts,
        "prompts_revision": prompt_set_revision(settings.prompts, data_dir),
        "seed": seed,
        "instruction": settings.instruction,
        **rendering_fingerprint(settings),
    }


def too_few(name: str, tokens: int, budget: int, bound: str = "") -> CalibrationError:
    return CalibrationError(
        f"calibration prompt set {name} gives only {bound}{tokens:,} tokens with these settings, fewer than the "
        f"budget of {budget:,}; lower calibration.tokens (--calibration-tokens) or use a larger prompt set"
    )


@dataclass(frozen=True)
class PromptSource:
    name: str = "prompts"
    generated_tokens: bool = False
    samples_with_backend: bool = False
    draws_prompt_set: bool = True  # calibration.prompts: its data is checked before a run writes

    def check(self, settings) -> None:
        pass  # the prompt set's name is checked with the calibration settings

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        return {"source": self.name, "tokens": settings.tokens, **prompt_set_fingerprint(settings, seed, data_dir)}

    def estimate_tokens(self, settings) -> int:
        return settings.tokens

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        budget = inputs.settings.tokens
        sequences, tokens = render_until(inputs.renderer, inputs.questions, budget)
        if tokens < budget:
            raise too_few(inputs.settings.prompts, tokens, budget)
        return CalibrationSet.prompts_only(sequences, {"prompts": len(sequences)})


register_source(PromptSource())

"""Prompt-only calibration (`prompts`): the prompt set's questions, rendered with the model's chat template
exactly as they are at evaluation time (generation prompt included)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rac_bench.calibration.prompt_sets import prompt_set_revision
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source


def render_prompt(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def prompt_ids(tokenizer, question: str) -> list[int]:
    return tokenizer(render_prompt(tokenizer, question), add_special_tokens=False).input_ids


def prompt_set_fingerprint(settings, seed: int, data_dir) -> dict:
    """Which questions the prompt-based sources (prompts, traces) draw."""
    return {
        "prompts": settings.prompts,
        "prompts_revision": prompt_set_revision(settings.prompts, data_dir),
        "samples": settings.samples,
        "seed": seed,
    }


@dataclass(frozen=True)
class PromptSource:
    name: str = "prompts"
    generated_tokens: bool = False

    def check(self, settings) -> None:
        pass  # the prompt set's name is checked with the calibration settings

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        return {"source": self.name, "tokens": settings.tokens, **prompt_set_fingerprint(settings, seed, data_dir)}

    def estimate_tokens(self, settings, prompt_tokens: int) -> int:
        return settings.samples * prompt_tokens

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        sequences = [torch.tensor(prompt_ids(inputs.tokenizer, q)) for q in inputs.questions()]
        return CalibrationSet.prompts_only(sequences)


register_source(PromptSource())

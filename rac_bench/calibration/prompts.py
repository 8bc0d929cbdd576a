"""Prompt-only calibration: the task's calibration questions, rendered with the model's chat template
exactly as they are at evaluation time (generation prompt included)."""

from __future__ import annotations

import torch


def render_prompt(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def prompt_sequences(tokenizer, questions: list[str]) -> list[torch.Tensor]:
    return [torch.tensor(tokenizer(render_prompt(tokenizer, q), add_special_tokens=False).input_ids) for q in questions]

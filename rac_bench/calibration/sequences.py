"""A calibration set: token-id sequences plus, for each, how many leading tokens are prompt. The rest is
generated chain of thought, which `--cot-weight` may weigh differently in the Hessian."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: building a plan stays torch-free
    import torch


@dataclass
class CalibrationSet:
    sequences: list[torch.Tensor]
    prompt_lengths: list[int]
    facts: dict = field(default_factory=dict)  # what its source reports (prompts drawn, traces cut short, ...)

    @classmethod
    def prompts_only(cls, sequences: list[torch.Tensor], facts: dict | None = None) -> CalibrationSet:
        """Sequences with no generated part (prompts, text windows): every token is input."""
        return cls(sequences, [len(s) for s in sequences], facts or {})

    def __iter__(self):
        return iter(self.sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.sequences[index]

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sequences)

    @property
    def prompt_tokens(self) -> int:
        return sum(self.prompt_lengths)

    def content_hash(self) -> str:
        """sha256 of the token ids and prompt lengths: two runs whose results differ can be traced to their data."""
        import torch

        digest = hashlib.sha256()
        for sequence, prompt_length in zip(self.sequences, self.prompt_lengths):
            digest.update(f"{len(sequence)}:{prompt_length};".encode())
            digest.update(sequence.to(torch.int64).numpy().tobytes())
        return digest.hexdigest()[:16]

    def within_budget(self, tokens: int | None) -> CalibrationSet:
        """The first `tokens` tokens in sequence order (the last sequence cut short); all of them when None."""
        if tokens is None or self.tokens <= tokens:
            return self
        sequences, prompt_lengths, left = [], [], tokens
        for sequence, prompt_length in zip(self.sequences, self.prompt_lengths):
            if left <= 0:
                break
            sequences.append(sequence[:left])
            prompt_lengths.append(min(prompt_length, left))
            left -= len(sequences[-1])
        return CalibrationSet(sequences, prompt_lengths, self.facts)

    def token_weights(self, cot_weight: float | None) -> list[torch.Tensor] | None:
        """Per-token Hessian weights: 1 for prompt tokens, `cot_weight` for generated ones; None (a plain token
        average, as in the paper) when no weight is given."""
        import torch

        if cot_weight is None:
            return None
        weights = []
        for sequence, prompt_length in zip(self.sequences, self.prompt_lengths):
            weight = torch.full((len(sequence),), float(cot_weight), dtype=torch.float32)
            weight[:prompt_length] = 1.0
            weights.append(weight)
        return weights

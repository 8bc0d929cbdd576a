"""Drift from dense without sampling noise: the pruned model's next-token distribution against the dense model's,
teacher-forced on the dense model's own responses. Per generated token, KL(dense || pruned) and whether both
models' most likely token agree; a cell reports their mean and 95th percentile (KL) over tokens.

Sampled accuracy and thinking length mix the damage with sampling noise; these do not: both models read the same
tokens. Responses are re-tokenized from their text (the engine's ids are not stored), which for a byte-level BPE
can split a few tokens differently from how they were generated; both models read the same split.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from rac_bench.metrics import Estimate, ratio_of_sums


@dataclass(frozen=True)
class Drift:
    kl: Estimate  # KL(dense || pruned) in nats per token, with a bootstrap interval over responses
    kl_p95: float  # the 95th percentile over tokens
    top1_agreement: Estimate  # share of tokens where both models' most likely next token is the same
    tokens: int
    responses: int

    @classmethod
    def from_dict(cls, record: dict) -> Drift:
        return cls(**{**record, "kl": Estimate(**record["kl"]), "top1_agreement": Estimate(**record["top1_agreement"])})


POSITIONS_PER_CHUNK = 1024  # logits over a 152k vocabulary take 0.6 GB per 1,024 positions in fp32


@torch.no_grad()
def _token_drift(dense, pruned, ids: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """KL and top-1 agreement at each position that predicts a response token (positions start-1 .. end-2).
    The output head runs on chunks of positions, so a 32k-token response never holds whole-response logits."""
    hidden = [
        model.get_decoder()(input_ids=ids.reshape(1, -1)).last_hidden_state[0, start - 1 : -1]
        for model in (dense, pruned)
    ]
    heads = [model.get_output_embeddings() for model in (dense, pruned)]
    kls, agreements = [], []
    for dense_part, pruned_part in zip(*(each.split(POSITIONS_PER_CHUNK) for each in hidden)):
        logits = [head(part).float() for head, part in zip(heads, (dense_part, pruned_part))]
        log_dense, log_pruned = (torch.log_softmax(each, dim=-1) for each in logits)
        kls.append(torch.sum(log_dense.exp() * (log_dense - log_pruned), dim=-1).cpu())
        agreements.append((logits[0].argmax(dim=-1) == logits[1].argmax(dim=-1)).cpu())
    return torch.cat(kls), torch.cat(agreements)


@contextmanager
def _on(device: str, *models):
    """The models on `device` within the block, then back where each was."""
    homes = [next(model.parameters()).device for model in models]
    try:
        yield [model.to(device) for model in models]
    finally:
        for model, home in zip(models, homes):
            model.to(home)


def teacher_forced_drift(dense, pruned, tokenizer, samples: list[dict], device: str) -> Drift | None:
    """Drift over `samples` (records with the dense model's `prompt` and `response`), computed on `device`;
    None when no response has a token."""
    kls, agreements = [], []
    with _on(device, dense, pruned):
        for sample in samples:
            prompt = tokenizer(sample["prompt"], add_special_tokens=False).input_ids
            response = tokenizer(sample["response"], add_special_tokens=False).input_ids
            if prompt and response:
                kl, agree = _token_drift(dense, pruned, torch.tensor(prompt + response, device=device), len(prompt))
                kls.append(kl)
                agreements.append(agree)
    if not kls:
        return None
    lengths = [float(len(kl)) for kl in kls]
    return Drift(
        kl=ratio_of_sums([float(kl.sum()) for kl in kls], lengths),
        kl_p95=float(torch.quantile(torch.cat(kls), 0.95)),
        top1_agreement=ratio_of_sums([float(agree.sum()) for agree in agreements], lengths),
        tokens=int(sum(lengths)),
        responses=len(kls),
    )

"""Drift from dense without sampling noise: the pruned model's next-token distribution against the dense model's,
teacher-forced on the dense model's own responses. Per generated token, KL(dense || pruned) and whether both
models' most likely token agree; a cell reports their mean and 95th percentile (KL) over tokens.

Sampled accuracy and thinking length mix the damage with sampling noise; these do not: both models read the same
tokens. Conventions:
- Responses are chosen across problems: the first sample of every problem (in problem order), then the second of
  every problem, and so on up to `evaluation.drift_responses`; intervals come from a bootstrap over problems (the
  unit that was sampled), not over tokens or responses.
- Responses are re-tokenized from their text (the engine's ids are not stored), which for a byte-level BPE can split
  a few tokens differently from how they were generated; both models read the same split. A response that stopped
  (not cut by the token limit) gets its end-of-sequence token back, so the prediction to stop is scored too.
- Logits come from each model's own forward (its output head and whatever follows it: Gemma's final logit
  softcapping, Granite's logit scaling), run over the response in chunks with the model's own KV cache, so a
  32k-token response never holds whole-response logits.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy
import torch

from rac_bench.cells import Drift
from rac_bench.metrics import ratio_of_sums

POSITIONS_PER_CHUNK = 1024  # logits over a 152k vocabulary take 0.6 GB per 1,024 positions in fp32


def across_problems(samples: list[dict], limit: int) -> list[dict]:
    """Up to `limit` samples, the first of every problem first, then the second of every problem, and so on."""
    by_problem: dict = {}
    for sample in sorted(samples, key=lambda s: (s["doc_id"], s.get("sample_index", 0))):
        by_problem.setdefault(sample["doc_id"], []).append(sample)
    chosen, depth = [], 0
    while len(chosen) < limit and any(len(group) > depth for group in by_problem.values()):
        chosen += [group[depth] for group in by_problem.values() if len(group) > depth][: limit - len(chosen)]
        depth += 1
    return chosen


@torch.no_grad()
def _token_drift(dense, pruned, ids: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """KL and top-1 agreement at each position that predicts a response token (positions start-1 .. end-2), from
    each model's own forward: the prompt once, then the response in chunks on the model's KV cache."""
    pieces = [ids[:start], *(piece for piece in ids[start:-1].split(POSITIONS_PER_CHUNK) if len(piece))]
    caches = [None, None]
    kls, agreements = [], []
    for index, piece in enumerate(pieces):
        logits = []
        for which, model in enumerate((dense, pruned)):
            output = model(input_ids=piece.reshape(1, -1), past_key_values=caches[which], use_cache=True)
            caches[which] = output.past_key_values
            logits.append(output.logits[0, -1:] if index == 0 else output.logits[0])
        log_dense, log_pruned = (torch.log_softmax(each.float(), dim=-1) for each in logits)
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


def response_ids(tokenizer, sample: dict) -> list[int]:
    """The response's tokens, with its end-of-sequence token when it stopped rather than ran into the limit."""
    ids = tokenizer(sample["response"], add_special_tokens=False).input_ids
    eos = getattr(tokenizer, "eos_token_id", None)
    if sample.get("finish_reason") == "stop" and eos is not None and (not ids or ids[-1] != eos):
        ids = [*ids, eos]
    return ids


def percentile(values: torch.Tensor, percent: float) -> float:
    """A percentile of any number of values (torch.quantile refuses more than 2^24)."""
    return float(numpy.percentile(values.double().numpy(), percent))


def teacher_forced_drift(dense, pruned, tokenizer, samples: list[dict], device: str) -> Drift | None:
    """Drift over `samples` (records with the dense model's `doc_id`, `prompt` and `response`), computed on
    `device`; None when no response has a token."""
    per_problem: dict = {}  # doc_id -> (kl sum, agreements, tokens)
    every_kl, responses = [], 0
    with _on(device, dense, pruned):
        for sample in samples:
            prompt = tokenizer(sample["prompt"], add_special_tokens=False).input_ids
            response = response_ids(tokenizer, sample)
            if not (prompt and response):
                continue
            kl, agree = _token_drift(dense, pruned, torch.tensor(prompt + response, device=device), len(prompt))
            problem = sample.get("doc_id", responses)
            total = per_problem.get(problem, (0.0, 0.0, 0))
            per_problem[problem] = (
                total[0] + float(kl.sum()),
                total[1] + float(agree.sum()),
                total[2] + len(kl),
            )
            every_kl.append(kl)
            responses += 1
    if not every_kl:
        return None
    kl_sums, agreement_sums, lengths = (list(column) for column in zip(*per_problem.values()))
    return Drift(
        kl=ratio_of_sums(kl_sums, [float(n) for n in lengths]),
        kl_p95=percentile(torch.cat(every_kl), 95),
        top1_agreement=ratio_of_sums(agreement_sums, [float(n) for n in lengths]),
        tokens=int(sum(lengths)),
        responses=responses,
        problems=len(per_problem),
    )

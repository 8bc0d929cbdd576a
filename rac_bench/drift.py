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
  softcapping, Granite's logit scaling). Short responses run many at once, right-padded, in batches whose logits
  take no more memory than one chunk of a 152k-vocabulary model's (a forward per response cost the default run
  about 2 s per variant); a response longer than a chunk runs alone, in chunks on the model's own KV cache, so a
  32k-token response never holds whole-response logits.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy
import torch

from rac_bench.cells import Drift
from rac_bench.metrics import ratio_of_sums

POSITIONS_PER_CHUNK = 1024  # logits over a 152k vocabulary take 0.6 GB per 1,024 positions in fp32
LOGITS_PER_BATCH = POSITIONS_PER_CHUNK * 152_064
POSITIONS_PER_BATCH = 64 * POSITIONS_PER_CHUNK  # the bound on activations where the vocabulary is tiny


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
        kl, agreement = _compare(*logits)
        kls.append(kl)
        agreements.append(agreement)
    return torch.cat(kls), torch.cat(agreements)


def _compare(dense_logits: torch.Tensor, pruned_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(dense || pruned) and top-1 agreement at each position of two models' logits, on the CPU."""
    log_dense, log_pruned = (torch.log_softmax(each.float(), dim=-1) for each in (dense_logits, pruned_logits))
    kl = torch.sum(log_dense.exp() * (log_dense - log_pruned), dim=-1)
    return kl.cpu(), (dense_logits.argmax(dim=-1) == pruned_logits.argmax(dim=-1)).cpu()


@torch.no_grad()
def _batch_drift(dense, pruned, sequences: list[tuple[list[int], int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`_token_drift` of several sequences (ids, start) in one forward per model. Right padding needs no attention
    mask: under causal attention a real position sees only the real positions before it, at the positions it would
    have alone."""
    device = next(dense.parameters()).device
    batch = torch.zeros(len(sequences), max(len(ids) for ids, _ in sequences), dtype=torch.long, device=device)
    for row, (ids, _) in enumerate(sequences):
        batch[row, : len(ids)] = torch.tensor(ids, device=device)
    dense_logits, pruned_logits = (model(input_ids=batch, use_cache=False).logits for model in (dense, pruned))
    predicting = [slice(start - 1, len(ids) - 1) for ids, start in sequences]
    return [_compare(dense_logits[row, span], pruned_logits[row, span]) for row, span in enumerate(predicting)]


def _batches(lengths: list[int], vocabulary: int) -> list[list[int]]:
    """Indices of the sequences of at most a chunk's length, shortest first, grouped so that a batch's padded
    positions stay within the logits budget and padding adds at most a quarter to any sequence (the forward costs
    per position: on the default run, one batch padded to the longest response took twice the time); every longer
    sequence on its own."""
    budget = min(POSITIONS_PER_BATCH, max(POSITIONS_PER_CHUNK, LOGITS_PER_BATCH // vocabulary))
    batches, current = [], []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        length = lengths[index]
        if length > POSITIONS_PER_CHUNK:
            batches.append([index])
        elif current and ((len(current) + 1) * length > budget or 4 * length > 5 * lengths[current[0]]):
            batches, current = [*batches, current], [index]
        else:
            current.append(index)
    return [*batches, current] if current else batches


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
    sequences = []  # (sample, ids, start) of each sample with a prompt and a response, in sample order
    for sample in samples:
        prompt = tokenizer(sample["prompt"], add_special_tokens=False).input_ids
        response = response_ids(tokenizer, sample)
        if prompt and response:
            sequences.append((sample, prompt + response, len(prompt)))
    drifts: list = [None] * len(sequences)
    with _on(device, dense, pruned):
        vocabulary = dense.get_output_embeddings().weight.shape[0]
        for batch in _batches([len(ids) for _, ids, _ in sequences], vocabulary):
            if len(sequences[batch[0]][1]) > POSITIONS_PER_CHUNK:
                _, ids, start = sequences[batch[0]]
                drifts[batch[0]] = _token_drift(dense, pruned, torch.tensor(ids, device=device), start)
                continue
            for index, drift in zip(batch, _batch_drift(dense, pruned, [sequences[i][1:] for i in batch])):
                drifts[index] = drift
    for (sample, _, _), (kl, agree) in zip(sequences, drifts):
        problem = sample.get("doc_id", responses)
        total = per_problem.get(problem, (0.0, 0.0, 0))
        per_problem[problem] = (total[0] + float(kl.sum()), total[1] + float(agree.sum()), total[2] + len(kl))
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

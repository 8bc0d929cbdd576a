"""A decode loop for the HF backend that does per step only what generation needs: one forward on the model's own
KV cache, then the next token of every unfinished sequence. Finished sequences leave the batch (their rows leave
the cache too), so a batch whose responses mostly stopped costs what its ramblers cost, not what it started with.

transformers' `generate` runs its logits processors, stopping criteria and bookkeeping every step over every row,
finished or not; on the small models this project tests on, that overhead, not the arithmetic, was the run time
(benchmarks/hf_generation.py measures both). Greedy decoding picks the same argmax as `generate`. Sampling applies
temperature, then top-k, then top-p as transformers' warpers do, and draws from a generator seeded per call, so a
chunk's samples depend on its seed alone.
"""

from __future__ import annotations

import time

import torch

from rac_bench.backends.base import SamplingSettings


def next_tokens(logits: torch.Tensor, settings: SamplingSettings, generator: torch.Generator | None) -> torch.Tensor:
    if settings.greedy:
        return logits.argmax(dim=-1)
    scores = logits.float() / settings.temperature
    if settings.top_k:
        kth = torch.topk(scores, min(settings.top_k, scores.shape[-1])).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if settings.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=False)
        remove = ordered.softmax(dim=-1).cumsum(dim=-1) <= (1 - settings.top_p)
        remove[..., -1:] = False  # keep at least the most likely token
        scores = scores.masked_fill(remove.scatter(1, order, remove), -float("inf"))
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(1)


@torch.no_grad()
def decode(
    model,
    input_ids,
    attention_mask,
    settings: SamplingSettings,
    eos_ids: set[int],
    finished=None,
    finished_at: list | None = None,
) -> list[list[int]]:
    """Each row's generated tokens, through its first end-of-sequence token or `max_new_tokens` of them. Rows are
    left-padded prompts (`attention_mask` 0 on the padding); `finished(n)` is told as n rows finish, and
    `finished_at[row]` (when given) is set to the perf_counter time of the row's last token: what that request
    waited, even in a batch whose other rows run on."""
    generator = None
    if not settings.greedy:
        generator = torch.Generator(device=input_ids.device).manual_seed(settings.seed)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)  # each active row's place in the batch
    generated: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    eos = torch.tensor(sorted(eos_ids), device=input_ids.device)
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    output = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True)
    cache, mask, position = output.past_key_values, attention_mask, positions[:, -1:] + 1
    logits = output.logits[:, -1]
    for step in range(settings.max_new_tokens):
        tokens = next_tokens(logits, settings, generator)
        for row, token in zip(rows.tolist(), tokens.tolist()):
            generated[row].append(token)
        unfinished = ~torch.isin(tokens, eos)
        left = int(unfinished.sum())
        if finished_at is not None and (left < len(tokens) or step + 1 == settings.max_new_tokens):
            _stamp(finished_at, rows, unfinished, step + 1 == settings.max_new_tokens)
        if step + 1 == settings.max_new_tokens or not left:
            if finished is not None:
                finished(len(tokens))
            break
        if left < len(tokens):
            if finished is not None:
                finished(len(tokens) - left)
            keep = unfinished.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, tokens, mask, position = rows[keep], tokens[keep], mask[keep], position[keep]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        output = model(
            input_ids=tokens.reshape(-1, 1),
            attention_mask=mask,
            position_ids=position,
            past_key_values=cache,
            use_cache=True,
        )
        logits, position = output.logits[:, -1], position + 1
    return generated


def _stamp(finished_at: list, rows: torch.Tensor, unfinished: torch.Tensor, last_step: bool) -> None:
    now = time.perf_counter()
    for row, running in zip(rows.tolist(), unfinished.tolist()):
        if last_step or not running:
            finished_at[row] = now

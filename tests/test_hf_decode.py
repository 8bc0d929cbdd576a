"""The HF backend's decode loop against transformers' generate: the same greedy tokens, token for token, on the
embedded model dense and pruned (whose responses loop to the limit), and seeded, valid sampling."""

from __future__ import annotations

import copy

import pytest
import torch

from rac_bench.backends.base import SamplingSettings
from rac_bench.backends.decode import decode, next_tokens
from rac_bench.backends.hf import HFBackend
from rac_bench.pruning.engine import prune_model
from rac_bench.pruning.magnitude import magnitude_prune
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.zoo.arithmetic import evaluation_problems


def prompts(tokenizer, count: int) -> list[str]:
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p.question}], tokenize=False, add_generation_prompt=True
        )
        for p in evaluation_problems()[:count]
    ]


def generate_reference(model, tokenizer, texts: list[str], max_new: int) -> list[list[int]]:
    tokenizer.padding_side = "left"
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(
            **encoded,
            max_new_tokens=max_new,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    rows = []
    for row in output[:, encoded.input_ids.shape[1] :].tolist():
        end = next((i for i, t in enumerate(row) if t == tokenizer.eos_token_id), None)
        rows.append(row[: end + 1] if end is not None else row)
    return rows


@pytest.mark.parametrize("pruned", [False, True])
def test_greedy_decode_gives_generates_tokens_token_for_token(embedded, pruned):
    model, tokenizer = embedded
    if pruned:
        model = copy.deepcopy(model)
        prune_model(model, magnitude_prune, SparsityTarget(0.5), None, progress=False)
    texts = prompts(tokenizer, 96)
    backend = HFBackend(model, tokenizer, batch_size=64, progress=False)
    ours = [list(g.token_ids) for g in backend.generate(texts, SamplingSettings(max_new_tokens=256))]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # the backend's batches, as generate sees them
    reference = [None] * len(texts)
    for start in range(0, len(order), 64):
        batch = order[start : start + 64]
        for index, row in zip(batch, generate_reference(model, tokenizer, [texts[i] for i in batch], 256)):
            reference[index] = row
    assert ours == reference
    if pruned:
        assert sum(len(row) == 256 for row in ours) > 5  # rows that ran to the limit beside rows that stopped early


def test_sampling_is_seeded_and_keeps_to_top_k_and_top_p():
    torch.manual_seed(0)
    logits = torch.randn(4, 50)
    settings = SamplingSettings(temperature=0.7, top_p=0.5, top_k=5, seed=3)
    first = next_tokens(logits, settings, torch.Generator().manual_seed(3))
    again = next_tokens(logits, settings, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    top5 = torch.topk(logits, 5).indices
    for _ in range(50):
        drawn = next_tokens(logits, settings, torch.Generator().manual_seed(_))
        assert all(int(token) in top5[row].tolist() for row, token in enumerate(drawn))


def test_decode_drops_finished_rows_and_keeps_each_rows_tokens(embedded):
    model, tokenizer = embedded
    texts = prompts(tokenizer, 8)
    tokenizer.padding_side = "left"
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    rows = decode(
        model, encoded.input_ids, encoded.attention_mask, SamplingSettings(max_new_tokens=256), {tokenizer.eos_token_id}
    )
    alone = [
        decode(
            model,
            *(lambda e: (e.input_ids, e.attention_mask))(tokenizer([t], return_tensors="pt", add_special_tokens=False)),
            SamplingSettings(max_new_tokens=256),
            {tokenizer.eos_token_id},
        )[0]
        for t in texts
    ]
    assert rows == alone  # a row's tokens do not depend on its batch-mates finishing early

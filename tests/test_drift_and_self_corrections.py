"""Drift from dense (teacher-forced KL and top-1 agreement) and self-correction counts, against hand-computed
values."""

import time

import pytest
import torch

from conftest import tiny_qwen2
from rac_bench.drift import teacher_forced_drift
from rac_bench.scoring.self_corrections import count_hesitations


class CharacterTokenizer:
    """One id per character (ids below the tiny model's vocabulary of 97)."""

    def __call__(self, text, add_special_tokens=False):
        return type("Encoded", (), {"input_ids": [ord(c) % 97 for c in text]})()


def test_a_model_has_no_drift_from_itself_and_a_pruned_one_has_some():
    dense = tiny_qwen2(seed=0)
    samples = [{"prompt": "Compute 1+2.", "response": "<think>1+2=3</think>3"}, {"prompt": "Hi", "response": "ok"}]
    same = teacher_forced_drift(dense, dense, CharacterTokenizer(), samples, "cpu")
    assert same.kl.value == pytest.approx(0.0, abs=1e-6) and same.top1_agreement.value == 1.0
    assert same.tokens == len("<think>1+2=3</think>3") + len("ok") and same.responses == 2
    pruned = tiny_qwen2(seed=0)
    with torch.no_grad():
        for parameter in pruned.model.layers.parameters():
            parameter.mul_((torch.rand_like(parameter) > 0.5).float())
    drift = teacher_forced_drift(dense, pruned, CharacterTokenizer(), samples, "cpu")
    assert drift.kl.value > 0 and drift.kl_p95 >= 0 and 0 <= drift.top1_agreement.value <= 1
    assert drift.kl.low <= drift.kl.value <= drift.kl.high


def test_kl_is_the_mean_over_response_tokens_of_kl_dense_to_pruned():
    dense, pruned = tiny_qwen2(seed=0), tiny_qwen2(seed=1)
    tokenizer = CharacterTokenizer()
    sample = {"prompt": "ab", "response": "cde"}
    ids = torch.tensor([tokenizer(sample["prompt"] + sample["response"]).input_ids])
    with torch.no_grad():
        p = torch.log_softmax(dense(input_ids=ids).logits[0, 1:-1], -1)
        q = torch.log_softmax(pruned(input_ids=ids).logits[0, 1:-1], -1)
    expected = float((p.exp() * (p - q)).sum(-1).mean())
    drift = teacher_forced_drift(dense, pruned, tokenizer, [sample], "cpu")
    assert drift.kl.value == pytest.approx(expected, rel=1e-5) and drift.tokens == 3


@pytest.mark.parametrize(
    "response, count",
    [
        ("<think>So x = 2. Wait, no. Hmm, let me double-check: x = 3.</think>3", 3),
        ("<think>Await the result; hmmm is not a marker; WAIT is.</think>", 1),
        ("<think>Alternatively, wait</think>wait wait", 2),  # the answer after </think> is not thinking
        ("no think tag, wait, the whole text is thinking", 1),
    ],
)
def test_hesitations_are_whole_words_in_the_thinking(response, count):
    assert count_hesitations(response) == count


def test_counting_hesitations_is_linear_on_adversarial_output():
    hostile = "let me " * 100_000 + "wai" * 100_000
    started = time.perf_counter()
    assert count_hesitations(hostile) == 0
    assert time.perf_counter() - started < 2.0

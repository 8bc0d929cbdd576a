"""Drift from dense (teacher-forced KL and top-1 agreement) and self-correction counts, against hand-computed
values."""

import time

import pytest
import torch
from conftest import tiny_qwen2

from rac_bench import drift as drift_module
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


@pytest.mark.parametrize("chunk", [1, 2, 1024])  # the output head runs on chunks of positions
def test_kl_is_the_mean_over_response_tokens_of_kl_dense_to_pruned(chunk, monkeypatch):
    monkeypatch.setattr(drift_module, "POSITIONS_PER_CHUNK", chunk)
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
    assert drift.top1_agreement.value == pytest.approx(float((p.argmax(-1) == q.argmax(-1)).float().mean()))


@pytest.mark.parametrize("logits_per_batch", [97 * 1024 * 64, 97 * 40])  # everything in one batch; batches of ~3
def test_responses_run_in_padded_batches_with_the_values_of_one_at_a_time(logits_per_batch, monkeypatch):
    dense, pruned = tiny_qwen2(seed=0), tiny_qwen2(seed=1)
    samples = [
        {"doc_id": i, "prompt": "Compute " + "1+" * i + "1.", "response": "<think>" + "x" * (3 * i) + "</think>"}
        for i in range(9)
    ]
    monkeypatch.setattr(drift_module, "POSITIONS_PER_CHUNK", 8)  # every response longer: one at a time, in chunks
    alone = teacher_forced_drift(dense, pruned, CharacterTokenizer(), samples, "cpu")
    monkeypatch.setattr(drift_module, "POSITIONS_PER_CHUNK", 1024)
    monkeypatch.setattr(drift_module, "LOGITS_PER_BATCH", logits_per_batch)
    batched = teacher_forced_drift(dense, pruned, CharacterTokenizer(), samples, "cpu")
    assert (batched.tokens, batched.responses, batched.problems) == (alone.tokens, alone.responses, alone.problems)
    assert batched.kl.value == pytest.approx(alone.kl.value, rel=1e-5)
    assert batched.kl_p95 == pytest.approx(alone.kl_p95, rel=1e-5)
    assert batched.top1_agreement.value == alone.top1_agreement.value


def test_batches_stay_within_the_logits_budget_pad_little_and_long_sequences_run_alone(monkeypatch):
    monkeypatch.setattr(drift_module, "POSITIONS_PER_CHUNK", 10)
    monkeypatch.setattr(drift_module, "LOGITS_PER_BATCH", 20 * 100)  # 20 positions of a 100-token vocabulary
    lengths = [4, 11, 5, 3, 9, 2]
    batches = drift_module._batches(lengths, vocabulary=100)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [1] in batches  # longer than a chunk
    assert all(len(batch) * max(lengths[i] for i in batch) <= 20 for batch in batches if batch != [1])
    monkeypatch.setattr(drift_module, "POSITIONS_PER_CHUNK", 1024)
    monkeypatch.setattr(drift_module, "LOGITS_PER_BATCH", 10**6 * 100)
    lengths = [100, 120, 126, 90, 80, 81]  # padding adds at most a quarter: 80..100, then 120..126
    assert sorted(map(sorted, drift_module._batches(lengths, vocabulary=100))) == [[0, 3, 4, 5], [1, 2]]

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


def _record(doc_id, correct, truncated, thinking, corrections, lenient=None, limit_after_answer=False):
    return {
        "doc_id": doc_id,
        "correct": correct,
        "truncated": truncated,
        "limit_after_answer": limit_after_answer,
        "extracted": None,
        "thinking_tokens": thinking,
        "answer_tokens": 1,
        "generated_tokens": thinking + 1,
        "self_corrections": corrections,
        "correct_if_read_leniently": lenient,
        "seconds": 1.0,
        "first_token_seconds": None,
        "seconds_per_output_token": None,
    }


def test_a_cell_summarises_completed_and_truncated_accuracy_and_self_corrections_by_hand():
    from rac_bench.evaluation import Timing, summarize
    from rac_bench.scoring.self_corrections import HESITATIONS
    from rac_bench.zoo.arithmetic import RETRIES

    records = [
        _record(0, True, False, 40, 0),
        _record(1, False, False, 60, 2, limit_after_answer=True),
        _record(2, False, True, 200, 9, lenient=True),
        _record(3, False, True, 200, 11, lenient=False),
    ]
    timing = Timing(1.0, 1.0, 100, 0)
    retries = summarize(records, timing, {}, {}, None, RETRIES)
    assert retries.accuracy.value == 0.25 and retries.truncation.value == 0.5
    assert retries.limit_after_answer.value == 0.25  # closed its thinking, then ran into the limit: graded
    assert retries.accuracy_completed.value == 0.5  # 1 of the 2 completed responses
    assert retries.accuracy_truncated.value == 0.5  # 1 of the 2 truncated ones, read leniently
    assert retries.self_corrections.value == (0 + 2 + 9 + 11) / 4 and retries.self_correction_unit.startswith("retries")
    assert (retries.first_token_seconds, retries.seconds_per_output_token) == (None, None)
    hesitations = summarize(records, timing, {}, {}, None, HESITATIONS)
    assert hesitations.self_corrections.value == pytest.approx((0 + 2000 / 60 + 9000 / 200 + 11000 / 200) / 4)
    completed_only = summarize(records[:2], timing, {}, {}, None, RETRIES)
    assert completed_only.accuracy_truncated is None


def test_drift_takes_responses_across_problems_and_bootstraps_over_problems():
    from rac_bench.drift import across_problems

    samples = [{"doc_id": d, "sample_index": i, "prompt": "p", "response": "r"} for d in range(30) for i in range(16)]
    chosen = across_problems(samples, 40)
    assert [s["doc_id"] for s in chosen[:30]] == list(range(30))  # every problem's first sample first
    assert [(s["doc_id"], s["sample_index"]) for s in chosen[30:]] == [(d, 1) for d in range(10)]
    dense, pruned = tiny_qwen2(seed=0), tiny_qwen2(seed=1)
    tokenizer = CharacterTokenizer()
    two_per_problem = [
        {"doc_id": d, "sample_index": i, "prompt": "ab", "response": "cdefg"[: 2 + (d + i) % 4]}
        for d in range(6)
        for i in range(2)
    ]
    drift = teacher_forced_drift(dense, pruned, tokenizer, two_per_problem, "cpu")
    assert drift.responses == 12 and drift.problems == 6  # the interval resamples 6 problems, not 12 responses


def test_the_end_of_sequence_prediction_of_a_stopped_response_is_scored():
    class WithEos(CharacterTokenizer):
        eos_token_id = 96

    dense, pruned = tiny_qwen2(seed=0), tiny_qwen2(seed=1)
    stopped = {"doc_id": 0, "prompt": "ab", "response": "cde", "finish_reason": "stop"}
    cut = {**stopped, "finish_reason": "length"}
    assert teacher_forced_drift(dense, pruned, WithEos(), [stopped], "cpu").tokens == 4  # c, d, e and EOS
    assert teacher_forced_drift(dense, pruned, WithEos(), [cut], "cpu").tokens == 3
    ids = torch.tensor([[ord(c) % 97 for c in "abcde"] + [96]])
    with torch.no_grad():
        p = torch.log_softmax(dense(input_ids=ids).logits[0, 1:-1], -1)
        q = torch.log_softmax(pruned(input_ids=ids).logits[0, 1:-1], -1)
    expected = float((p.exp() * (p - q)).sum(-1).mean())
    assert teacher_forced_drift(dense, pruned, WithEos(), [stopped], "cpu").kl.value == pytest.approx(
        expected, rel=1e-5
    )


def test_drift_reads_logits_after_the_models_own_post_head_transforms():
    """Gemma2 caps its logits (final_logit_softcapping) after the head: a head applied by hand misses it."""
    from architectures import tiny_config
    from transformers import AutoModelForCausalLM

    config = tiny_config("gemma2")
    config.final_logit_softcapping = 2.0  # strong, so that capped and uncapped distributions differ clearly
    torch.manual_seed(0)
    dense = AutoModelForCausalLM.from_config(config).eval()
    torch.manual_seed(1)
    pruned = AutoModelForCausalLM.from_config(config).eval()
    sample = {"doc_id": 0, "prompt": "ab", "response": "cdefgh"}
    ids = torch.tensor([CharacterTokenizer()(sample["prompt"] + sample["response"]).input_ids])
    with torch.no_grad():
        p = torch.log_softmax(dense(input_ids=ids).logits[0, 1:-1].float(), -1)
        q = torch.log_softmax(pruned(input_ids=ids).logits[0, 1:-1].float(), -1)
    expected = float((p.exp() * (p - q)).sum(-1).mean())
    drift = teacher_forced_drift(dense, pruned, CharacterTokenizer(), [sample], "cpu")
    assert drift.kl.value == pytest.approx(expected, rel=1e-4)


def test_the_kl_percentile_works_above_torch_quantiles_limit():
    from rac_bench.drift import percentile

    values = torch.arange(2**24 + 10, dtype=torch.float32)
    assert percentile(values, 50) == pytest.approx((2**24 + 9) / 2)

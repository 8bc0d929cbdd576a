import random
import re

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rac_bench.zoo import train
from rac_bench.zoo.arithmetic import MAX_LEVEL, sample_problem
from rac_bench.zoo.tokenizer import build_tokenizer


def test_training_script_runs_a_few_steps_and_saves_a_loadable_model(tmp_path):
    train.main(["--out", str(tmp_path / "model"), "--steps", "3", "--batch-size", "4", "--threads", "1"])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert model.config.model_type == "qwen2"
    assert model.config.head_dim >= 32  # vLLM's CPU attention needs it
    assert model.config.max_position_embeddings >= 1024  # a looping model runs on to the token limit
    assert tokenizer.eos_token == "<|end|>"
    assert tokenizer.chat_template == build_tokenizer().chat_template


def test_training_is_deterministic(tmp_path):
    for name in ("a", "b"):
        train.main(["--out", str(tmp_path / name), "--steps", "2", "--batch-size", "4", "--threads", "1"])
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "a").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_slipped_results_are_read_but_never_trained_on():
    tokenizer = build_tokenizer()
    problem = sample_problem(random.Random(5), MAX_LEVEL)
    input_ids, labels = train.encode_example(tokenizer, problem, random.Random(0), slip_rate=0.5)
    tokens = [tokenizer.decode([token]) for token in input_ids]
    start = tokens.index("<think>")
    assert set(labels[:start]) == {-100}  # the question is never a target
    text = "".join(tokens[start:])
    response = zip(tokens[start:], labels[start:])
    masked = "".join(("_" if label == -100 else " ") * len(token) for token, label in response)
    expected = [" "] * len(text)
    for attempt in re.finditer(r"\d+[+-]\d+=(\d+)\?\d+!", text):  # a failed check: its result is the slip
        expected[attempt.start(1) : attempt.end(1)] = "_" * len(attempt.group(1))
    assert text.count("!") >= 2 and text.endswith(f"</think>{problem.answer}<|end|>")
    assert masked == "".join(expected)
    clean_ids, clean_labels = train.encode_example(tokenizer, problem, random.Random(0), slip_rate=0.0)
    assert tokenizer.decode(clean_ids).endswith(problem.response + "<|end|>")
    assert -100 not in clean_labels[start:]

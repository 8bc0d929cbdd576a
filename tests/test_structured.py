"""Structured pruning (width, depth): the shapes and budgets, the least-squares refit, Block Influence, and the
checkpoints they save: smaller, loaded by plain transformers, with as many parameters removed as their label says."""

from __future__ import annotations

import json

import pytest
import torch
from architectures import tiny_config, tiny_model
from safetensors import safe_open
from transformers import AutoModelForCausalLM, LlamaConfig

from rac_bench.cli import main
from rac_bench.pruning.depth import BlockInfluence, least_influential
from rac_bench.pruning.shape import StructureError, plan_structure
from rac_bench.pruning.structured import restructure_model
from rac_bench.pruning.width import channel_scores, reconstruct, relative_error

SMOLLM2 = LlamaConfig(  # SmolLM2-135M's shape
    hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3
)


@pytest.mark.parametrize("method", ["width", "depth"])
@pytest.mark.parametrize("sparsity", [0.1, 0.25, 0.5, 0.7])
def test_a_plan_removes_its_label_within_half_a_point_with_uniform_layers(method, sparsity):
    plan = plan_structure(method, SMOLLM2, sparsity)
    assert plan.removed_fraction == pytest.approx(sparsity, abs=0.005)
    assert plan.result.heads % plan.result.kv_heads == 0 and plan.result.kv_heads >= 1
    if method == "depth":
        assert plan.removed_layers == int(sparsity * 30) and plan.result.heads == 9
    else:
        assert plan.result.layers == 30 and plan.removed_kv_groups == int(sparsity * 3)


def test_budgets_and_models_that_cannot_be_restructured_are_refused():
    with pytest.raises(StructureError, match="MLP channels"):
        plan_structure("depth", tiny_config("llama"), 0.99)
    with pytest.raises(StructureError, match="fused"):
        plan_structure("width", tiny_config("phi3"), 0.25)
    with pytest.raises(StructureError, match="mixture of experts"):
        plan_structure("depth", tiny_config("mixtral"), 0.25)


def test_the_refit_recovers_a_removed_channel_the_kept_ones_predict():
    """A channel that is a combination of kept ones carries no new information: after the refit the output over the
    calibration inputs is kept (up to the dampening), where dropping its column loses it."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=generator)
    x[:, 7] = x[:, 0] - 2 * x[:, 3]
    weight = torch.randn(5, 8, generator=generator)
    hessian = x.T @ x / len(x)
    keep = torch.arange(7)
    refitted = reconstruct(weight, hessian, keep)
    dropped = relative_error(weight, hessian, keep, weight[:, keep])
    assert relative_error(weight, hessian, keep, refitted) < 0.01 * dropped
    direct = (x[:, keep] @ refitted.T - x @ weight.T).pow(2).sum() / (x @ weight.T).pow(2).sum()
    assert float(direct) == pytest.approx(relative_error(weight, hessian, keep, refitted), rel=1e-3, abs=1e-6)
    scores = channel_scores(weight, hessian)
    assert scores.shape == (8,) and torch.all(scores >= 0)


def test_block_influence_is_low_for_a_layer_that_barely_turns_the_hidden_state():
    x = torch.randn(1, 64, 16)
    still, turned = BlockInfluence(), BlockInfluence()
    still.add(x, x + 0.01 * torch.randn_like(x))
    turned.add(x, torch.randn_like(x))
    assert still.value < 0.01 < turned.value
    assert least_influential([0.5, 0.1, 0.3, 0.1], 2) == [1, 3]


@pytest.mark.parametrize("name", ["llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3"])
@pytest.mark.parametrize("method", ["width", "depth"])
def test_each_family_restructured_loads_in_plain_transformers_and_generates(name, method, tmp_path):
    config = tiny_config(name)
    config.num_attention_heads, config.num_key_value_heads, config.head_dim = 4, 2, 16
    config.num_hidden_layers = 4
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:2] * 2
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    dense_parameters = sum(p.numel() for p in model.parameters())
    plan = plan_structure(method, model.config, 0.5)
    calibration = [torch.randint(3, 128, (48,), generator=torch.Generator().manual_seed(i)) for i in range(4)]
    report = restructure_model(model, plan, calibration, progress=False)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["num_hidden_layers"] == plan.result.layers and saved["intermediate_size"] == plan.result.intermediate
    assert (saved["num_attention_heads"], saved["num_key_value_heads"]) == (plan.result.heads, plan.result.kv_heads)
    if "layer_types" in saved:
        assert len(saved["layer_types"]) == plan.result.layers
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert sum(p.numel() for p in loaded.parameters()) < dense_parameters
    ids = torch.tensor([[5, 6, 7, 8]])
    generated = loaded.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert generated.shape == (1, 10)
    with torch.no_grad():  # what was pruned in memory is what was saved
        assert torch.allclose(loaded(ids).logits, model(ids).logits, atol=1e-5)
    assert len(report.removed_layers) == plan.removed_layers


@pytest.mark.parametrize("method", ["width", "depth", "width@traces"])
def test_an_embedded_checkpoint_is_as_much_smaller_as_its_label_counted_in_its_files(method, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["prune", "--method", method, "--sparsity", "0.25", "--out", str(out), "--calibration-tokens", "1024"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out  # what was removed, not the zeros' "unstructured"
    assert f"{method} removed 80 of 256 MLP channels per layer sparsity 0.250" in printed, printed
    with safe_open(str(out / "model.safetensors"), "pt") as file:
        kept = sum(file.get_slice(k).get_shape()[0] * file.get_slice(k).get_shape()[1] for k in file.keys()
                   if ".layers." in k and k.endswith("proj.weight"))  # fmt: skip
    dense = 3 * 64 * (64 + 32 + 32 + 64 + 3 * 256)  # the embedded model's q, k, v, o, gate, up, down
    assert 1 - kept / dense == pytest.approx(0.25, abs=0.005)
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["pattern"] == "structured"
    achieved = report["achieved_sparsity"]
    assert achieved["structured"] and achieved["removed_weights"] == dense - kept
    assert achieved["prunable"] == pytest.approx(1 - kept / dense, abs=1e-12)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.intermediate_size == 176
    assert model.generate(torch.tensor([[4, 5]]), max_new_tokens=3).shape[1] == 5


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--methods", "depth", "--sparsity", "0.99"], "MLP channels"),
        (["--methods", "width", "--pattern", "2:4"], "not an N:M pattern"),
        (["--methods", "width:w4"], "takes no quantization"),
    ],
)
def test_bad_structured_input_is_one_line_exit_2_and_nothing_written(flags, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", *flags, "--output-dir", str(out), "--store", str(tmp_path / "s.sqlite")]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_dry_run_prints_each_structured_shape_and_parameter_count(capsys):
    assert main(["run", "--methods", "width,depth", "--sparsity", "0.5", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    shape = "3 layers, intermediate 96, 2 heads / 1 KV heads, 92,160 prunable weights, 99,712 parameters"
    assert f"width 0.5: {shape}" in printed
    assert "depth 0.5: 2 layers, intermediate 176" in printed


def test_an_mixture_of_experts_model_is_refused_before_anything_is_written(tmp_path, capsys):
    dense = tmp_path / "moe"
    tiny_model("mixtral").save_pretrained(dense)
    argv = ["prune", "--model", str(dense), "--method", "depth", "--sparsity", "0.25", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "mixture of experts" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_run_serves_the_smaller_model_and_its_cells_say_so(tmp_path):
    """A structured variant is not dense weights with zeros in them: its cells record `smaller`, and the bytes served
    are dense's less the removed weights'."""
    out = tmp_path / "out"
    argv = ["run", "--methods", "width", "--sparsity", "0.25", "--limit", "8", "--output-dir", str(out)]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--store", str(tmp_path / "s.sqlite")]) == 0
    cells = {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    assert cells["width"]["execution"] == {"mode": "smaller"}
    assert cells["dense"]["execution"] == {"mode": "dense"}
    removed = cells["width"]["achieved_sparsity"]["removed_weights"]
    assert cells["dense"]["cost"]["weight_bytes"] - cells["width"]["cost"]["weight_bytes"] == 4 * removed  # float32

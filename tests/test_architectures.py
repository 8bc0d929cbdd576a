"""Reasoning models as they ship: dense, fused, mixture-of-experts and mixed-attention architectures, built tiny and
random from the installed transformers' config classes, pruned through `rac-bench prune` and checked in the saved
safetensors; each layer's statistics checked against the model's own forward."""

from __future__ import annotations

import json
import re

import pytest
import torch
from architectures import ARCHITECTURES, MIXTURES, SLIDING, tiny_model
from safetensors import safe_open

from rac_bench.cli import main
from rac_bench.models import load_model
from rac_bench.pruning.engine import prune_model
from rac_bench.pruning.passes import PassSettings
from rac_bench.pruning.layout import LayoutError, find_decoder_layers
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.sparsegpt import sparsegpt_prune
from rac_bench.pruning.wanda import wanda_prune

# what stays dense in a saved checkpoint, by name: norms, biases, routers and gates, attention sinks, the
# gated delta-net's convolution and decay vectors (the hub layouts' names, independent of rac-bench's rule)
DENSE_IN_CHECKPOINT = re.compile(r"norm|bias|\.gate\.weight|router|shared_expert_gate|sinks|conv1d|A_log")


@pytest.fixture(scope="module")
def model_directories(tmp_path_factory):
    """Each architecture saved with the embedded model's tokenizer, as a user's model directory."""
    _, tokenizer = load_model(None)
    directories = {}
    for name in ARCHITECTURES:
        directory = tmp_path_factory.mktemp(name)
        tiny_model(name).save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        directories[name] = directory
    return directories


def saved_decoder_tensors(directory) -> dict[str, torch.Tensor]:
    with safe_open(str(directory / "model.safetensors"), "pt") as file:
        return {key: file.get_tensor(key) for key in file.keys() if ".layers." in key}


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_every_prunable_weight_reaches_the_label_in_the_saved_safetensors(
    architecture, method, model_directories, tmp_path, capsys
):
    out = tmp_path / "pruned"
    argv = ["prune", "--model", str(model_directories[architecture]), "--method", method, "--sparsity", "0.5"]
    argv += ["--calibration-prompts", "rac_arith"]  # the embedded task's prompts, in the embedded tokenizer
    assert main([*argv, "--out", str(out), "--calibration-tokens", "512"]) == 0, capsys.readouterr().err
    saved, before = saved_decoder_tensors(out), saved_decoder_tensors(model_directories[architecture])
    assert saved.keys() == before.keys()  # the model's own layout
    prunable = [key for key in saved if not DENSE_IN_CHECKPOINT.search(key)]
    zeros = sum(int((saved[key] == 0).sum()) for key in prunable)
    total = sum(saved[key].numel() for key in prunable)
    assert zeros / total == pytest.approx(0.5, abs=0.005)
    for key in saved.keys() - prunable:  # dense by rule, untouched
        assert torch.equal(saved[key], before[key]), key
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["achieved_sparsity"]["prunable"] == pytest.approx(zeros / total, abs=1e-9)
    assert report["achieved_sparsity"]["prunable_weights"] == total
    if architecture in MIXTURES:
        assert "router" in report["dense_by_rule"]
        assert any(re.search(r"experts\.\w+\[\d+\]$", layer["name"]) for layer in report["layers"])
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(out)  # transformers loads it, and it runs
    assert torch.isfinite(reloaded(torch.arange(1, 30).reshape(1, -1)).logits).all()


def recorded_hessians(model, sequences, **passes) -> dict[str, torch.Tensor]:
    """The Hessian the engine gathered for each matrix (by report name), the dense model's activations feeding
    every layer; the "pruning" keeps every weight."""
    hessians = []

    def keep(weight, statistics, target):
        hessians.append(statistics.hessian.clone())
        return weight

    report = prune_model(
        model, keep, SparsityTarget(0.5), sequences, progress=False, passes=PassSettings(sequential=False, **passes)
    )
    return {layer.name: hessian for layer, hessian in zip(report.layers, hessians)}


def forward_hessians(model, sequences) -> dict[str, torch.Tensor]:
    """The same, from the inputs each linear layer and each expert's first matrix meet in the model's own forward."""
    layers = find_decoder_layers(model)
    inputs: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for index, layer in enumerate(layers):
        for name, module in layer.named_modules():
            if isinstance(module, torch.nn.Linear):
                key = f"layers.{index}.{name}"
                hooks.append(
                    module.register_forward_pre_hook(lambda _m, a, key=key: inputs.setdefault(key, []).append(a[0]))
                )
            elif hasattr(module, "is_transposed"):  # an experts module: the routed rows of its first matrix's input

                def routed(_module, args, index=index, name=name):
                    hidden, top_k_index = args[0], args[1]
                    for expert in range(top_k_index.max() + 1):
                        rows = hidden[(top_k_index == expert).any(-1)]
                        inputs.setdefault(f"layers.{index}.{name}.gate_up_proj[{expert}]", []).append(rows)

                hooks.append(module.register_forward_pre_hook(routed))
    with torch.no_grad():
        for ids in sequences:
            model(ids.reshape(1, -1), use_cache=False)
    for hook in hooks:
        hook.remove()
    hessians = {}
    for key, chunks in inputs.items():
        x = torch.cat([chunk.reshape(-1, chunk.shape[-1]) for chunk in chunks]).double()
        hessians[key] = (2 * x.T @ x / len(x)).float()
    return hessians


@pytest.mark.parametrize("architecture", [*SLIDING, "qwen3_moe", "qwen3_next"])
def test_each_layer_is_calibrated_on_the_inputs_of_the_models_own_forward(architecture):
    """Past the 16-token sliding window, layer 1 (full attention) sees other masks and rotary embeddings than layer
    0 (sliding); Qwen3-Next's linear-attention layer another mask than its full-attention one."""
    model = tiny_model(architecture)
    generator = torch.Generator().manual_seed(0)
    sequences = [torch.randint(3, 128, (n,), generator=generator) for n in (40, 56)]
    engine = recorded_hessians(model, sequences, expert_min_tokens=0)
    forward = forward_hessians(model, sequences)
    compared = [name for name in engine if name in forward]
    assert any(name.startswith("layers.1.") for name in compared)
    if architecture in MIXTURES:
        assert any("experts" in name for name in compared)
    for name in compared:
        torch.testing.assert_close(engine[name], forward[name], rtol=1e-4, atol=1e-5, msg=name)


def starved_gpt_oss():
    """GPT-OSS whose routers never choose expert 3."""
    model = tiny_model("gpt_oss")
    for layer in find_decoder_layers(model):
        layer.mlp.router.bias.data[3] = -1e4
    return model


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, "all (fallback: 0 routed tokens < 128)"),
        ({"expert_min_tokens": 0}, "none reached it: pruned by magnitude"),
        ({"experts": "all"}, "all"),
    ],
)
def test_an_expert_no_token_is_routed_to_is_pruned_by_the_declared_rule_not_zeroed(settings, expected):
    model = starved_gpt_oss()
    sequences = [torch.randint(3, 128, (n,), generator=torch.Generator().manual_seed(n)) for n in (40, 56)]
    report = prune_model(
        model, sparsegpt_prune, SparsityTarget(0.5), sequences, progress=False, passes=PassSettings(**settings)
    )
    starved = [layer for layer in report.layers if layer.name.endswith("[3]")]
    assert len(starved) == 2 * 2 and all(layer.tokens == 0 for layer in starved)
    assert {layer.statistics for layer in starved} == {expected}
    for layer in find_decoder_layers(model):
        for tensor in (layer.mlp.experts.gate_up_proj[3], layer.mlp.experts.down_proj[3]):
            assert float((tensor == 0).float().mean()) == pytest.approx(0.5, abs=0.01)
    routed = [layer for layer in report.layers if "experts" in layer.name and not layer.name.endswith("[3]")]
    assert sum(layer.tokens for layer in routed) == 2 * 2 * 2 * 96  # every token reaches 2 experts, in 2 tensors


def test_with_experts_all_every_expert_is_calibrated_on_every_token():
    model = tiny_model("qwen3_moe")
    sequences = [torch.randint(3, 128, (40,), generator=torch.Generator().manual_seed(1))]
    engine = recorded_hessians(model, sequences, experts="all")
    attention_input = engine["layers.0.self_attn.q_proj"]
    assert not torch.equal(attention_input, engine["layers.0.mlp.experts.gate_up_proj[0]"])
    # every expert's first matrix reads the same (post-attention, normed) hidden states: one Hessian for all
    first = [engine[f"layers.0.mlp.experts.gate_up_proj[{e}]"] for e in range(8)]
    assert all(torch.equal(h, first[0]) for h in first)


def test_wanda_uses_routed_statistics_per_expert():
    model = tiny_model("mixtral")
    sequences = [torch.randint(3, 128, (64,), generator=torch.Generator().manual_seed(2))]
    report = prune_model(
        model, wanda_prune, SparsityTarget(0.5), sequences, progress=False, passes=PassSettings(expert_min_tokens=0)
    )
    tokens = [layer.tokens for layer in report.layers if "gate_up_proj" in layer.name]
    assert sum(tokens) == 2 * 2 * 64 and len(set(tokens)) > 1  # routed: experts see different numbers of tokens


def test_an_unknown_layout_holding_real_weight_is_an_error_naming_it():
    model = tiny_model("llama")
    for layer in find_decoder_layers(model):
        layer.mlp.register_parameter("mystery", torch.nn.Parameter(torch.randn(4, 64, 64)))
    with pytest.raises(LayoutError, match=r"layers\.0\.mlp\.mystery"):
        prune_model(model, wanda_prune, SparsityTarget(0.5), [torch.arange(3, 30)], progress=False)
    small = tiny_model("llama")
    for layer in find_decoder_layers(small):
        layer.mlp.register_parameter("scale", torch.nn.Parameter(torch.randn(2, 64)))  # under 1%: listed
    report = prune_model(small, wanda_prune, SparsityTarget(0.5), [torch.arange(3, 30)], progress=False)
    assert report.dense_by_rule["unknown layout (under 1% of the decoder)"] == ["mlp.scale"]

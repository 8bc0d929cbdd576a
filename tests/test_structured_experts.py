"""Expert pruning (`experts`, REAP saliency; `experts-frequency`): every mixture-of-experts family of the architectures
table loses whole experts and their router rows, saves a standard checkpoint with the new expert count and top-k
unchanged, which plain transformers loads and runs as the pruned model in memory ran."""

from __future__ import annotations

import json

import pytest
import torch
from architectures import MIXTURES, tiny_config, tiny_model
from transformers import AutoModelForCausalLM

from rac_bench.cli import main
from rac_bench.pruning.expert_plan import plan_experts
from rac_bench.pruning.expert_removal import _Saliency, remove_experts
from rac_bench.pruning.shape import StructureError

SPARSITY = {"deepseek_v3": 0.113, "qwen3_next": 0.179}  # a whole expert per layer is a coarser step there


@pytest.mark.parametrize("name", MIXTURES)
def test_each_mixture_loses_whole_experts_and_loads_in_plain_transformers(name, tmp_path):
    model = tiny_model(name)
    plan = plan_experts("experts", model.config, SPARSITY.get(name, 0.3))
    assert plan.removed_fraction == pytest.approx(SPARSITY.get(name, 0.3), abs=0.005)
    calibration = [torch.randint(3, 128, (64,), generator=torch.Generator().manual_seed(i)) for i in range(4)]
    report = remove_experts(model, plan, calibration, progress=False)
    assert all(len(kept) == plan.result.experts for kept in report.kept_experts.values())
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert plan.result.experts in config.values() and plan.dense.experts not in config.values()
    assert config["num_experts_per_tok"] == 2
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, model(ids).logits, atol=1e-5)
    assert loaded.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0).shape == (1, 8)


def test_reap_saliency_is_the_mean_router_weight_times_output_norm_over_routed_tokens():
    model = tiny_model("qwen3_moe")
    experts = model.model.layers[0].mlp.experts
    hidden = torch.randn(6, 64)
    index = torch.tensor([[0, 1], [0, 2], [1, 2], [0, 3], [3, 1], [2, 0]])
    weights = torch.rand(6, 2)
    measured = _Saliency(experts, 8)
    measured.record(hidden, index, weights)
    tokens, slots = torch.where(index == 0)
    outputs = experts(hidden[tokens], torch.zeros(len(tokens), 1, dtype=torch.long), torch.ones(len(tokens), 1))
    expected = float((weights[tokens, slots] * outputs.norm(dim=-1)).mean())
    assert float(measured.scores("reap")[0]) == pytest.approx(expected, rel=1e-5)
    assert measured.scores("frequency").tolist()[:5] == [4, 3, 3, 2, 0]
    assert float(measured.scores("reap")[4]) == 0.0  # never routed: removed first


def test_a_budget_no_whole_expert_count_meets_is_refused_with_the_accepted_ones():
    with pytest.raises(StructureError, match="accepted --sparsity on this model: 0.100, 0.200"):
        plan_experts("experts", tiny_config("mixtral"), 0.25)
    with pytest.raises(StructureError, match="no experts"):
        plan_experts("experts", tiny_config("llama"), 0.25)


@pytest.mark.parametrize("method", ["experts", "experts-frequency"])
def test_rac_bench_prune_saves_a_smaller_mixture_counted_against_dense(method, tmp_path, capsys):
    dense = tmp_path / "dense"
    tiny_model("qwen3_moe").save_pretrained(dense)
    from rac_bench.models import load_model

    load_model(None)[1].save_pretrained(dense)
    out = tmp_path / "out"
    argv = ["prune", "--model", str(dense), "--method", method, "--sparsity", "0.3", "--out", str(out)]
    assert main([*argv, "--calibration-prompts", "rac_arith", "--calibration-tokens", "512"]) == 0
    assert f"{method} removed 3 of 8 experts per MoE layer sparsity" in capsys.readouterr().out
    achieved = json.loads((out / "rac_bench_report.json").read_text())["achieved_sparsity"]
    assert achieved["prunable"] == pytest.approx(0.3, abs=1e-9) and achieved["removed_weights"] == 36_864
    config = json.loads((out / "config.json").read_text())
    assert config.get("num_local_experts", config.get("num_experts")) == 5

import pytest
import torch

from conftest import tiny_qwen2
from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.pruning.engine import find_decoder_layers, prune_model
from rac_bench.pruning.magnitude import magnitude_prune
from rac_bench.pruning.pattern import SparsityTarget, parse_pattern
from rac_bench.pruning.sparsegpt import sparsegpt_prune
from rac_bench.pruning.statistics import InputStatistics
from rac_bench.pruning.wanda import wanda_prune

ALGORITHMS = {"magnitude": magnitude_prune, "wanda": wanda_prune, "sparsegpt": sparsegpt_prune}


def correlated_layer(rows=64, columns=256, tokens=2048, seed=0):
    """A weight and inputs with correlated, unevenly scaled channels: the case where the methods differ."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(columns, columns, generator=generator) / columns**0.5
    scales = torch.exp(torch.randn(columns, generator=generator))
    inputs = (
        torch.randn(tokens, columns, generator=generator) @ mixing
        + 0.3 * torch.randn(tokens, columns, generator=generator)
    ) * scales
    weight = torch.randn(rows, columns, generator=generator)
    statistics = InputStatistics(columns)
    statistics.add(inputs)
    return weight, inputs, statistics


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.7])
def test_unstructured_sparsity_is_exact(name, sparsity):
    weight, _, statistics = correlated_layer()
    pruned = ALGORITHMS[name](weight, statistics, SparsityTarget(sparsity))
    assert (pruned == 0).sum().item() == int(weight.numel() * sparsity)


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("pattern", ["2:4", "4:8", "1:4"])
def test_n_m_pattern_holds_in_every_group(name, pattern):
    weight, _, statistics = correlated_layer()
    target = parse_pattern(pattern, 0.0)
    pruned = ALGORITHMS[name](weight, statistics, target)
    zeros_per_group = (pruned == 0).reshape(weight.shape[0], -1, target.m).sum(-1)
    assert torch.all(zeros_per_group == target.n)


def test_reconstruction_error_orders_sparsegpt_below_wanda_below_magnitude():
    weight, inputs, statistics = correlated_layer()
    target = SparsityTarget(0.5)
    errors = {}
    for name, algorithm in ALGORITHMS.items():
        pruned = algorithm(weight, statistics, target)
        direct = torch.sum((inputs @ (weight - pruned).T) ** 2) / torch.sum((inputs @ weight.T) ** 2)
        errors[name] = statistics.relative_error(weight, pruned)
        assert errors[name] == pytest.approx(direct.item(), rel=1e-3)
    assert errors["sparsegpt"] < errors["wanda"] < errors["magnitude"]


def test_hessian_accumulated_in_batches_equals_one_batch():
    _, inputs, whole = correlated_layer()
    batched = InputStatistics(inputs.shape[1])
    for chunk in torch.split(inputs, [1, 500, 3, 1544]):
        batched.add(chunk)
    assert batched.tokens == whole.tokens == inputs.shape[0]
    torch.testing.assert_close(batched.hessian, whole.hessian, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(whole.hessian, 2 * inputs.T @ inputs / inputs.shape[0], rtol=1e-4, atol=1e-3)


def test_engine_prunes_every_decoder_linear_and_nothing_else():
    model = tiny_qwen2()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    calibration = [torch.randint(0, 97, (n,)) for n in (9, 17, 33)]
    report = prune_model(model, sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False)
    decoder_linears = [n for n, m in find_decoder_layers(model).named_modules() if isinstance(m, torch.nn.Linear)]
    assert len(report.layers) == len(decoder_linears) == 2 * 7
    assert all(layer.sparsity == 0.5 for layer in report.layers)
    assert all(0 < layer.relative_error < 1 for layer in report.layers)
    assert report.calibration_tokens == 9 + 17 + 33
    for name, parameter in model.named_parameters():
        if "layers." not in name or name.endswith(("norm.weight", "bias")):
            assert torch.equal(parameter, before[name]), name


def test_engine_ignore_regex_leaves_matching_layers_dense():
    model = tiny_qwen2()
    report = prune_model(model, magnitude_prune, SparsityTarget(0.5), None, ignore=r"mlp\.", progress=False)
    assert report.layers and not any("mlp" in layer.name for layer in report.layers)
    assert float((model.model.layers[0].mlp.down_proj.weight == 0).float().mean()) < 0.01


def test_engine_rejects_empty_calibration_and_models_without_decoder_layers():
    with pytest.raises(CalibrationError):
        prune_model(tiny_qwen2(), sparsegpt_prune, SparsityTarget(0.5), [], progress=False)
    with pytest.raises(ConfigError):
        prune_model(torch.nn.Sequential(torch.nn.ReLU()), magnitude_prune, SparsityTarget(0.5), None, progress=False)


@pytest.mark.parametrize("text", ["3:2", "a:b", "2:2", "0:4", "2-4"])
def test_malformed_patterns_are_rejected(text):
    with pytest.raises(ConfigError):
        parse_pattern(text, 0.5)


def test_sparsegpt_pruning_one_weight_matches_the_closed_form_obs_update():
    """Pruning only column 0 of one row: OBS gives w' = w - (w_0 / [H^-1]_00) [H^-1]_0,: exactly."""
    generator = torch.Generator().manual_seed(1)
    columns = 8
    inputs = torch.randn(256, columns, generator=generator) @ torch.randn(columns, columns, generator=generator)
    statistics = InputStatistics(columns)
    statistics.add(inputs)
    weight = torch.randn(1, columns, generator=generator).abs() + 1.0
    weight[0, 0] = 1e-3  # the least salient weight, so it is the one pruned
    pruned = sparsegpt_prune(weight, statistics, SparsityTarget(1 / columns), block_size=columns)
    hessian = statistics.hessian.double()
    damped = hessian + 0.01 * torch.mean(torch.diagonal(hessian)) * torch.eye(columns, dtype=torch.float64)
    inverse = torch.linalg.inv(damped)
    expected = weight.double()[0] - weight.double()[0, 0] / inverse[0, 0] * inverse[0]
    assert pruned[0, 0] == 0
    torch.testing.assert_close(pruned[0].double(), expected, rtol=1e-4, atol=1e-5)


def tiny_random_model(architecture: str):
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
    from transformers import Qwen3Config, Qwen3ForCausalLM

    common = dict(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=128,
    )
    config_class, model_class = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "qwen3": (Qwen3Config, Qwen3ForCausalLM),
        "mistral": (MistralConfig, MistralForCausalLM),
    }[architecture]
    torch.manual_seed(0)
    return model_class(config_class(**common)).eval()


@pytest.mark.parametrize("architecture", ["llama", "qwen3", "mistral"])
def test_engine_works_on_other_decoder_layouts_without_per_architecture_code(architecture):
    model = tiny_random_model(architecture)
    calibration = [torch.randint(0, 97, (n,)) for n in (11, 23)]
    report = prune_model(model, sparsegpt_prune, parse_pattern("2:4", 0.0), calibration, progress=False)
    assert len(report.layers) == 2 * 7
    for layer in find_decoder_layers(model):
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                groups = (module.weight == 0).reshape(module.weight.shape[0], -1, 4).sum(-1)
                assert torch.all(groups == 2)
    with torch.no_grad():
        logits = model(input_ids=torch.randint(0, 97, (1, 9))).logits
    assert torch.isfinite(logits).all()


def test_token_weight_one_gives_the_unweighted_hessian_exactly():
    _, inputs, plain = correlated_layer()
    weighted = InputStatistics(inputs.shape[1])
    for chunk in torch.split(inputs, [700, 1348]):
        weighted.add(chunk, torch.ones(len(chunk)))
    assert torch.equal(weighted.hessian, plain.hessian)


def test_generated_token_weight_zero_gives_the_prompts_only_hessian():
    _, inputs, _ = correlated_layer()
    prompt_length = 300
    prompts_only = InputStatistics(inputs.shape[1])
    prompts_only.add(inputs[:prompt_length])
    weighted = InputStatistics(inputs.shape[1])
    weighted.add(inputs, torch.cat([torch.ones(prompt_length), torch.zeros(len(inputs) - prompt_length)]))
    torch.testing.assert_close(weighted.hessian, prompts_only.hessian, rtol=1e-5, atol=1e-5)
    half = InputStatistics(inputs.shape[1])
    half.add(inputs, torch.cat([torch.ones(prompt_length), torch.full((len(inputs) - prompt_length,), 0.5)]))
    expected = 2 * (
        inputs[:prompt_length].T @ inputs[:prompt_length] + 0.5 * inputs[prompt_length:].T @ inputs[prompt_length:]
    )
    torch.testing.assert_close(
        half.hessian, expected / (prompt_length + 0.5 * (len(inputs) - prompt_length)), rtol=1e-4, atol=1e-3
    )


def test_cot_weight_zero_on_traces_prunes_as_the_prompts_alone_do():
    """Causal attention: prompt tokens' activations do not see the continuation, so weight 0 on it is prompts-only."""
    from rac_bench.calibration.sequences import CalibrationSet

    generator = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 97, (n,), generator=generator) for n in (40, 50, 60)]
    traces = CalibrationSet(
        [torch.cat([p, torch.randint(0, 97, (30,), generator=generator)]) for p in prompts], [40, 50, 60]
    )
    on_prompts, on_traces = tiny_qwen2(), tiny_qwen2()
    expected = prune_model(on_prompts, wanda_prune, SparsityTarget(0.5), prompts, progress=False)
    weighted = prune_model(
        on_traces,
        wanda_prune,
        SparsityTarget(0.5),
        traces.sequences,
        progress=False,
        token_weights=traces.token_weights(0.0),
    )
    for a, b in zip(expected.layers, weighted.layers):
        assert a.relative_error == pytest.approx(b.relative_error, rel=1e-3)
    for (name, a), b in zip(on_prompts.named_parameters(), on_traces.parameters()):
        assert torch.equal(a == 0, b == 0), name


@pytest.mark.parametrize("architecture", ["qwen2", "llama", "qwen3", "mistral"])
def test_modules_reading_the_same_input_share_one_statistics_object(architecture):
    from rac_bench.pruning.engine import _capture_first_layer_inputs, gather_statistics, prunable_linears

    model = tiny_qwen2() if architecture == "qwen2" else tiny_random_model(architecture)
    layer = find_decoder_layers(model)[0]
    states = _capture_first_layer_inputs(model, layer, [torch.randint(0, 97, (n,)) for n in (7, 12)])
    statistics = gather_statistics(layer, prunable_linears(layer, None), states)
    q, k, v, o = (statistics[f"self_attn.{p}_proj"] for p in "qkvo")
    gate, up, down = (statistics[f"mlp.{p}_proj"] for p in ("gate", "up", "down"))
    assert q is k is v and gate is up
    assert len({id(q), id(o), id(gate), id(down)}) == 4
    assert q.tokens == 19 and down.tokens == 19
    unshared = gather_statistics(layer, prunable_linears(layer, None), states, share=False)
    assert unshared["self_attn.q_proj"] is not unshared["self_attn.k_proj"]
    assert torch.equal(unshared["self_attn.k_proj"].hessian, q.hessian)


def test_shared_statistics_prune_exactly_as_unshared_ones_with_one_factorisation_per_input(monkeypatch):
    from rac_bench.pruning import sparsegpt

    factorisations = []
    real = sparsegpt.inverse_hessian_factor
    monkeypatch.setattr(sparsegpt, "inverse_hessian_factor", lambda *a: factorisations.append(1) or real(*a))
    calibration = [torch.randint(0, 97, (n,), generator=torch.Generator().manual_seed(n)) for n in (30, 45)]
    shared, unshared = tiny_qwen2(), tiny_qwen2()
    report = prune_model(shared, sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False)
    assert len(factorisations) == 2 * 4  # per layer: q/k/v, o, gate/up, down
    reference = prune_model(
        unshared, sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False, share_statistics=False
    )
    assert len(factorisations) == 2 * 4 + 2 * 7
    assert [layer.relative_error for layer in report.layers] == [layer.relative_error for layer in reference.layers]
    for (name, a), b in zip(shared.named_parameters(), unshared.parameters()):
        assert torch.equal(a, b), name


def test_gathered_statistics_equal_the_hessian_of_each_modules_recorded_inputs():
    """Pre-hooks, shared objects and the early stop after the last linear layer lose no input."""
    from rac_bench.pruning.engine import _capture_first_layer_inputs, gather_statistics, prunable_linears

    model = tiny_qwen2()
    layer = find_decoder_layers(model)[0]
    states = _capture_first_layer_inputs(model, layer, [torch.randint(0, 97, (n,)) for n in (7, 12, 5)])
    linears = prunable_linears(layer, None)
    recorded = {name: [] for name in linears}
    hooks = [m.register_forward_hook(lambda _m, i, _o, n=n: recorded[n].append(i[0])) for n, m in linears.items()]
    for hidden, kwargs in states:
        layer(hidden, **kwargs)
    for hook in hooks:
        hook.remove()
    statistics = gather_statistics(layer, linears, states)
    for name, inputs in recorded.items():
        x = torch.cat([i.reshape(-1, i.shape[-1]) for i in inputs])
        torch.testing.assert_close(statistics[name].hessian, 2 * x.T @ x / len(x), rtol=1e-5, atol=1e-6)


def test_inverse_hessian_factor_is_the_upper_cholesky_factor_of_the_damped_inverse():
    from rac_bench.pruning.sparsegpt import inverse_hessian_factor, lower_triangular_inverse

    _, _, statistics = correlated_layer(columns=600)
    hessian = statistics.hessian.double()
    factor = inverse_hessian_factor(hessian)
    damped = hessian + 0.01 * torch.mean(torch.diagonal(hessian)) * torch.eye(600, dtype=torch.float64)
    assert torch.equal(factor, torch.triu(factor)) and bool((torch.diagonal(factor) > 0).all())
    torch.testing.assert_close(factor.T @ factor, torch.linalg.inv(damped), rtol=1e-8, atol=1e-10)
    lower = torch.linalg.cholesky(damped)
    torch.testing.assert_close(lower_triangular_inverse(lower), torch.linalg.inv(lower), rtol=1e-8, atol=1e-10)

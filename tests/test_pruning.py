import pytest
import torch
from conftest import tiny_qwen2

from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.pruning.capture import capture_layer_inputs
from rac_bench.pruning.engine import prune_model
from rac_bench.pruning.layer_statistics import gather_statistics
from rac_bench.pruning.layout import find_decoder_layers, layer_layout
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
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen3Config,
        Qwen3ForCausalLM,
    )

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
    model = tiny_qwen2() if architecture == "qwen2" else tiny_random_model(architecture)
    layer, states = first_layer_states(model, (7, 12))
    statistics = gather_statistics(layer, layer_layout(layer), states).linears
    q, k, v, o = (statistics[f"self_attn.{p}_proj"] for p in "qkvo")
    gate, up, down = (statistics[f"mlp.{p}_proj"] for p in ("gate", "up", "down"))
    assert q is k is v and gate is up
    assert len({id(q), id(o), id(gate), id(down)}) == 4
    assert q.tokens == 19 and down.tokens == 19
    unshared = gather_statistics(layer, layer_layout(layer), states, share=False).linears
    assert unshared["self_attn.q_proj"] is not unshared["self_attn.k_proj"]
    assert torch.equal(unshared["self_attn.k_proj"].hessian, q.hessian)


def test_shared_statistics_prune_exactly_as_unshared_ones_with_one_factorisation_per_input(monkeypatch):
    from rac_bench.pruning import obs

    factorisations = []
    real = obs.inverse_hessian_factor
    monkeypatch.setattr(obs, "inverse_hessian_factor", lambda *a: factorisations.append(1) or real(*a))
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
    model = tiny_qwen2()
    layer, states = first_layer_states(model, (7, 12, 5))
    linears = {w.module: layer.get_submodule(w.module) for w in layer_layout(layer).prunable}
    recorded = {name: [] for name in linears}
    hooks = [m.register_forward_hook(lambda _m, i, _o, n=n: recorded[n].append(i[0])) for n, m in linears.items()]
    for hidden, kwargs in states:
        layer(hidden, **kwargs)
    for hook in hooks:
        hook.remove()
    statistics = gather_statistics(layer, layer_layout(layer), states).linears
    for name, inputs in recorded.items():
        x = torch.cat([i.reshape(-1, i.shape[-1]) for i in inputs])
        torch.testing.assert_close(statistics[name].hessian, 2 * x.T @ x / len(x), rtol=1e-5, atol=1e-6)


def first_layer_states(model, lengths):
    """The first decoder layer and its (hidden states, keyword arguments) for random sequences of `lengths`."""
    layers = find_decoder_layers(model)
    hidden, arguments = capture_layer_inputs(model, layers, [torch.randint(0, 97, (n,)) for n in lengths])
    return layers[0], list(zip(hidden, arguments[0]))


def test_inverse_hessian_factor_is_the_upper_cholesky_factor_of_the_damped_inverse():
    from rac_bench.pruning.obs import inverse_hessian_factor, lower_triangular_inverse

    _, _, statistics = correlated_layer(columns=600)
    hessian = statistics.hessian.double()
    factor = inverse_hessian_factor(hessian)
    damped = hessian + 0.01 * torch.mean(torch.diagonal(hessian)) * torch.eye(600, dtype=torch.float64)
    assert torch.equal(factor, torch.triu(factor)) and bool((torch.diagonal(factor) > 0).all())
    torch.testing.assert_close(factor.T @ factor, torch.linalg.inv(damped), rtol=1e-8, atol=1e-10)
    lower = torch.linalg.cholesky(damped)
    torch.testing.assert_close(lower_triangular_inverse(lower), torch.linalg.inv(lower), rtol=1e-8, atol=1e-10)


# --- the GPU path: the same tests on CUDA where a device is present (`pytest -k cuda`) ---

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def algorithm_1(weight: torch.Tensor, Hinv: torch.Tensor, target: SparsityTarget, block_size: int = 128):
    """SparseGPT's Algorithm 1 as the paper writes it (and IST-DASLab's fasterprune), column by column in float64:
    no sub-blocks, no transposed layout. Each block prunes its share of the matrix's zeros."""
    W, Hinv = weight.double().clone(), Hinv.double()
    rows, columns = W.shape
    total = int(W.numel() * target.sparsity)
    for i1 in range(0, columns, block_size):
        i2 = min(i1 + block_size, columns)
        W1, Hinv1, Err1 = W[:, i1:i2].clone(), Hinv[i1:i2, i1:i2], torch.zeros(rows, i2 - i1, dtype=torch.float64)
        mask1 = torch.zeros_like(W1, dtype=torch.bool)
        if not target.is_n_m:
            count = total * i2 // columns - total * i1 // columns
            scores = (W1**2 / torch.diagonal(Hinv1) ** 2).flatten()
            mask1.view(-1)[torch.topk(scores, count, largest=False).indices] = True
        for i in range(i2 - i1):
            if target.is_n_m and i % target.m == 0:
                scores = W1[:, i : i + target.m] ** 2 / torch.diagonal(Hinv1)[i : i + target.m] ** 2
                mask1[:, i : i + target.m].scatter_(1, torch.topk(scores, target.n, dim=1, largest=False).indices, True)
            q = W1[:, i].masked_fill(mask1[:, i], 0.0)
            err = (W1[:, i] - q) / Hinv1[i, i]
            W1[:, i:] -= err.reshape(-1, 1) @ Hinv1[i, i:].reshape(1, -1)
            W1[:, i] = q
            Err1[:, i] = err
        W[:, i1:i2] = W1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    return W


def separated_layer(rows: int = 24, columns: int = 4 * 128 + 64, tokens: int = 4096, device: str = "cpu"):
    """Correlated inputs, and weights whose saliencies fall in two bands three orders apart: in every group of 4
    consecutive inputs of a row, two weights near 1e-3 and two near 1. Every mask decision has a wide margin, so
    float rounding on any device cannot tip one, and the updated values can be compared to the reference."""
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(tokens, columns, generator=generator)
    inputs = inputs + 0.5 * torch.roll(inputs, 1, dims=1)  # neighbouring channels correlate
    magnitudes = torch.rand(rows, columns, generator=generator) + 1.0
    small = torch.rand(rows, columns // 4, 4, generator=generator).argsort(-1) < 2
    magnitudes[small.reshape(rows, columns)] *= 1e-3
    signs = torch.randint(0, 2, (rows, columns), generator=generator) * 2 - 1
    statistics = InputStatistics(columns)
    statistics.add(inputs.to(device))
    return (magnitudes * signs).to(device), statistics


@pytest.mark.parametrize("pattern", ["unstructured", "2:4", "4:8"])
@pytest.mark.parametrize("device", DEVICES)
def test_sparsegpt_equals_a_plain_algorithm_1_loop_over_the_whole_matrix(device, pattern):
    """Four full blocks of 128 columns (on CUDA: replays of the captured block sweep) and a last one of 64, each
    swept in sub-blocks of 32, against the paper's loop in float64 on the same inverse-Hessian factor."""
    from rac_bench.pruning.obs import prepared_inverse
    from rac_bench.pruning.sweep import _BlockShape, _captured_sweep, _CapturedSweep

    weight, statistics = separated_layer(device=device)
    target = parse_pattern(pattern, 0.5)
    pruned = sparsegpt_prune(weight, statistics, target)
    Hinv, _ = prepared_inverse(statistics.hessian)
    expected = algorithm_1(weight.cpu(), Hinv.cpu(), target)
    assert pruned.device.type == device
    if device == "cuda":  # the full blocks were swept by a captured graph, not by the eager fallback
        shape = _BlockShape(len(weight), 128, 32, (target.n, target.m), None)
        assert isinstance(_captured_sweep(shape, pruned.device), _CapturedSweep)
    assert torch.equal(pruned.cpu() == 0, expected == 0)
    assert int((pruned == 0).sum()) == weight.numel() // 2
    torch.testing.assert_close(pruned.cpu().double(), expected, rtol=1e-5, atol=1e-6)
    # the updates are what is being compared: the kept weights moved by far more than the tolerance
    assert float((expected - weight.cpu().double()).abs()[expected != 0].max()) > 1e-3


@pytest.mark.parametrize("device", DEVICES)
def test_hessian_of_bf16_inputs_loses_no_bit_on_tensor_cores(device, monkeypatch):
    """bf16 inputs with all 8 significant bits used, whose sums of products are all exact in fp32: H must come out
    exact, bit for bit, on CUDA (bf16 operands with fp32 products, or TF32 where torch lacks `mm(out_dtype=)`) and
    with IEEE fp32 on the CPU. fp32 inputs, which TF32 would round, keep IEEE fp32; the caller's TF32 setting is the
    same afterwards."""
    import rac_bench.pruning.statistics as statistics_module

    matmul = torch.backends.cuda.matmul
    seen = []
    real = statistics_module.InputStatistics._accumulate_upper
    monkeypatch.setattr(
        statistics_module.InputStatistics,
        "_accumulate_upper",
        lambda self, left, right: seen.append((left.dtype, matmul.fp32_precision)) or real(self, left, right),
    )
    before = matmul.fp32_precision
    # k * 2^-7 with |k| < 256: products are multiples of 2^-14 below 2^2, and 256 of them sum below 2^24 * 2^-14
    integers = torch.randint(-255, 256, (256, 1100), generator=torch.Generator().manual_seed(2))
    inputs = (integers * 2.0**-7).bfloat16()
    assert torch.equal(inputs.double(), integers * 2.0**-7)
    statistics = InputStatistics(1100)
    for chunk in torch.split(inputs.to(device), 64):
        statistics.add(chunk)
    exact = 2 * (integers.T @ integers).double() * 2.0**-14 / len(inputs)
    assert torch.equal(statistics.hessian.cpu().double(), exact)
    fp32 = InputStatistics(1100)
    fp32.add(inputs.float().to(device))
    assert fp32.hessian.shape == (1100, 1100)
    if device == "cpu":
        expected_bf16 = (torch.float32, before)
    else:
        expected_bf16 = (torch.bfloat16, before) if statistics_module.MM_WITH_OUT_DTYPE else (torch.float32, "tf32")
    assert seen == [expected_bf16, (torch.float32, before)]
    assert matmul.fp32_precision == before


def test_inputs_added_after_the_hessian_was_read_are_refused():
    _, inputs, statistics = correlated_layer()
    assert statistics.hessian.shape == (256, 256)
    with pytest.raises(RuntimeError, match="H has been read"):
        statistics.add(inputs)


def test_equal_length_sequences_are_batched_in_order_with_their_token_weights():
    from rac_bench.pruning.passes import batch_equal_lengths

    sequences = [torch.full((n,), i) for i, n in enumerate((5, 5, 3, 5, 3, 5))]
    weights = [torch.full((len(ids),), float(i)) for i, ids in enumerate(sequences)]
    batches, batch_weights = batch_equal_lengths(sequences, weights, batch_tokens=10)
    assert [b[:, 0].tolist() for b in batches] == [[0, 1], [3, 5], [2, 4]]
    assert [w.tolist() for w in batch_weights] == [[0.0] * 5 + [1.0] * 5, [3.0] * 5 + [5.0] * 5, [2.0] * 3 + [4.0] * 3]
    alone, _ = batch_equal_lengths(sequences, None, batch_tokens=0)
    assert [b.shape for b in alone] == [(1, len(ids)) for ids in sequences]
    assert batch_equal_lengths(sequences, None, batch_tokens=2)[0][0].shape == (1, 5)  # one sequence at least


def test_batched_calibration_forwards_prune_as_one_sequence_at_a_time():
    from rac_bench.pruning.passes import PassSettings

    calibration = [
        torch.randint(0, 97, (n,), generator=torch.Generator().manual_seed(i))
        for i, n in enumerate((40,) * 4 + (25,) * 3)
    ]
    weights = [torch.rand(len(ids), generator=torch.Generator().manual_seed(9)) for ids in calibration]
    single, batched = tiny_qwen2(), tiny_qwen2()
    expected = prune_model(
        single, sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False, token_weights=weights
    )
    report = prune_model(
        batched,
        sparsegpt_prune,
        SparsityTarget(0.5),
        calibration,
        progress=False,
        token_weights=weights,
        passes=PassSettings(batch_tokens=80),
    )
    assert report.calibration_tokens == expected.calibration_tokens == 4 * 40 + 3 * 25
    for a, b in zip(expected.layers, report.layers):
        assert a.sparsity == b.sparsity == 0.5
        assert a.relative_error == pytest.approx(b.relative_error, rel=1e-4)


def test_unknown_state_placement_is_rejected():
    from rac_bench.pruning.passes import PassSettings

    with pytest.raises(ConfigError, match="accepted: auto, device, host"):
        PassSettings(states="gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
@pytest.mark.parametrize("architecture", ["qwen2", "llama", "qwen3", "mistral"])
def test_offloaded_pruning_on_cuda_matches_the_cpu_and_leaves_the_model_home(architecture):
    """Model on the CPU, layers pruned on the GPU one at a time (equal-length sequences batched), with the states on
    the device and in pinned host memory: exact sparsity, and the layer errors of the CPU run."""
    from rac_bench.pruning.passes import PassSettings

    build = tiny_qwen2 if architecture == "qwen2" else lambda: tiny_random_model(architecture)
    calibration = [torch.randint(0, 97, (n,), generator=torch.Generator().manual_seed(n)) for n in (48, 48, 48, 31)]
    on_cpu = prune_model(build(), sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False)
    models, reports = {}, {}
    for states in ("device", "host"):
        models[states] = build()
        reports[states] = prune_model(
            models[states],
            sparsegpt_prune,
            SparsityTarget(0.5),
            calibration,
            progress=False,
            device="cuda",
            passes=PassSettings(states=states),
        )
        assert all(p.device.type == "cpu" for p in models[states].parameters())
        with torch.no_grad():
            assert torch.isfinite(models[states](input_ids=calibration[0].reshape(1, -1)).logits).all()
    for cpu, on_device, on_host in zip(on_cpu.layers, reports["device"].layers, reports["host"].layers):
        assert on_device.sparsity == on_host.sparsity == 0.5
        assert on_device.relative_error == pytest.approx(on_host.relative_error, rel=1e-3)
        assert on_host.relative_error == pytest.approx(cpu.relative_error, rel=2e-2, abs=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_unstructured_mask_takes_the_lowest_scores_with_ties_lowest_index_first(device):
    """The CPU (kthvalue and ties) and CUDA (stable sort) selections are the same weights."""
    from rac_bench.pruning.pattern import lowest_score_mask

    scores = torch.tensor([[3.0, 1.0, 1.0], [1.0, 0.0, 2.0]], device=device)
    mask = lowest_score_mask(scores, SparsityTarget(0.5), count=3)
    assert mask.cpu().tolist() == [[False, True, True], [False, True, False]]
    many_ties = torch.randint(0, 7, (64, 96), generator=torch.Generator().manual_seed(0)).float()
    for count in (1, 500, 3071):
        reference = torch.zeros(many_ties.numel(), dtype=torch.bool)
        reference[torch.sort(many_ties.flatten(), stable=True).indices[:count]] = True
        mask = lowest_score_mask(many_ties.to(device), SparsityTarget(0.5), count=count)
        assert torch.equal(mask.cpu().flatten(), reference)

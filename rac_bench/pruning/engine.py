"""The layer-sequential engine: run the calibration sequences through the model one decoder layer at a
time, gather each linear layer's input statistics, let an algorithm prune it, then feed the pruned
layer's outputs to the next layer. Architecture-agnostic: the decoder layers are found as the largest
`nn.ModuleList` of blocks that hold `nn.Linear` modules; the output head is pruned only with
`PassSettings(lm_head=True)` (the RAC authors' code prunes every nn.Linear), and the input embeddings only then, when
they are tied to it. `PassSettings(sequential=False)`
takes every layer's statistics from the dense model's activations instead of the pruned layers' before it.
Linear layers that are handed the same input tensor (q/k/v projections; gate/up) share one statistics
object, found by identity of the tensor their forward hooks see, not by names.

On a GPU (`device="cuda"` for a model kept on the CPU) only one decoder layer is on the device at a time. The hidden
states between layers stay on the device when they fit in half its free memory, else in pinned host memory with
non-blocking copies; equal-length calibration sequences share one forward (`PassSettings`).
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.statistics import InputStatistics

log = logging.getLogger(__name__)

# weight, statistics (None when the algorithm needs no calibration), target -> pruned weight
PruneFunction = Callable[[torch.Tensor, "InputStatistics | None", SparsityTarget], torch.Tensor]

BATCH_TOKENS_ON_CUDA = 8192
# kept on the device when a layer's input and output states together take at most this share of its free memory
STATES_SHARE_OF_FREE = 0.5
STATE_PLACES = ("auto", "device", "host")


@dataclass(frozen=True)
class PassSettings:
    """How the calibration passes run. `batch_tokens`: equal-length sequences are stacked into forwards of at
    most this many tokens (None: BATCH_TOKENS_ON_CUDA on a GPU; on a CPU one sequence per forward, so CPU results
    stay those of unbatched runs). `states`: where the hidden states between decoder layers are kept when a
    model is pruned by offload: "device", "host" (pinned memory), or "auto" (the device if they fit)."""

    batch_tokens: int | None = None
    states: str = "auto"
    # False: every layer's statistics come from the dense model's activations (the RAC authors' grouped, non-
    # sequential mode), not from the outputs of the already-pruned layers before it
    sequential: bool = True
    lm_head: bool = False  # also prune the output head, on the final norm of the last layer's outputs

    def __post_init__(self):
        if self.states not in STATE_PLACES:
            raise ConfigError(f"states {self.states!r} is not recognised; accepted: {', '.join(STATE_PLACES)}")


@dataclass
class LayerReport:
    name: str
    sparsity: float
    relative_error: float | None
    seconds: float


@dataclass
class PruningReport:
    layers: list[LayerReport] = field(default_factory=list)
    calibration_tokens: int = 0
    seconds: float = 0.0
    # wall time of each decoder layer, and of the engine's phases summed over layers: capture (embeddings up
    # to the first layer), statistics (forward with hooks), prune (solver + error report), propagate (forward)
    decoder_layer_seconds: list[float] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sparsity(self) -> float:
        return sum(layer.sparsity for layer in self.layers) / max(1, len(self.layers))

    @property
    def mean_relative_error(self) -> float | None:
        errors = [layer.relative_error for layer in self.layers if layer.relative_error is not None]
        return sum(errors) / len(errors) if errors else None

    def to_dict(self) -> dict:
        return {
            "sparsity": self.sparsity,
            "mean_relative_error": self.mean_relative_error,
            "calibration_tokens": self.calibration_tokens,
            "seconds": self.seconds,
            "decoder_layer_seconds": self.decoder_layer_seconds,
            "phase_seconds": self.phase_seconds,
            "layers": [vars(layer) for layer in self.layers],
        }


def find_decoder_layers(model: nn.Module) -> nn.ModuleList:
    candidates = [
        module
        for module in model.modules()
        if isinstance(module, nn.ModuleList)
        and len(module) > 0
        and all(any(isinstance(m, nn.Linear) for m in block.modules()) for block in module)
    ]
    if not candidates:
        raise ConfigError(
            f"{type(model).__name__} has no recognisable decoder layers (a ModuleList of blocks with nn.Linear)"
        )
    return max(candidates, key=lambda layers: sum(p.numel() for p in layers.parameters()))


def prunable_linears(layer: nn.Module, ignore: str | None) -> dict[str, nn.Linear]:
    pattern = re.compile(ignore) if ignore else None
    return {
        name: module
        for name, module in layer.named_modules()
        if isinstance(module, nn.Linear) and not (pattern and pattern.search(name))
    }


class _StopForward(Exception):
    pass


def _capture_first_layer_inputs(
    model: nn.Module,
    first_layer: nn.Module,
    batches: list[torch.Tensor],
    device: torch.device | None = None,
    store: torch.device | None = None,
):
    """(hidden_states, kwargs) entering the first decoder layer for each batch of token ids (a 1-D tensor is one
    sequence; no padding), kept on `store` (default: where they were computed). use_cache=False: a cache passed
    into repeated per-layer calls would be read stale."""
    captured = []

    def hook(module, args, kwargs):
        kwargs = dict(kwargs)
        hidden = args[0] if args else kwargs.pop("hidden_states")
        kwargs.pop("past_key_values", None)
        kwargs.pop("past_key_value", None)
        kwargs["use_cache"] = False
        hidden = hidden.detach()
        captured.append(
            (_to_device(hidden, store), _to_device(kwargs, store)) if store is not None else (hidden, kwargs)
        )
        raise _StopForward

    handle = first_layer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        for ids in batches:
            ids = ids.reshape(1, -1) if ids.dim() == 1 else ids
            try:
                model(input_ids=ids.to(device or model.device), use_cache=False)
            except _StopForward:
                pass
    finally:
        handle.remove()
    return captured


def _layer_output(layer: nn.Module, hidden: torch.Tensor, kwargs: dict) -> torch.Tensor:
    device = next(layer.parameters()).device
    output = layer(_to_device(hidden, device), **_to_device(kwargs, device))
    output = output[0] if isinstance(output, tuple) else output
    return output.to(hidden.device, non_blocking=True)  # states stay where they were kept


def _to_device(value, device: torch.device):
    """Tensors, and tensors inside tuples, lists and dicts, on `device` (others unchanged). Copies do not block
    the host: a GPU's outputs land in pinned host memory, and pinned inputs go up asynchronously; the copies are
    ordered on the GPU's stream, which is the only reader of states kept on the host."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(item, device) for item in value)
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    return value


@contextmanager
def _outside_layers_on(model: nn.Module, layers: nn.ModuleList, device: torch.device):
    """Within the block, everything outside the decoder layers is on `device` (a no-op when it is there already);
    afterwards it is back where it was."""
    home = next(model.parameters()).device
    if device == home:
        yield
        return
    _place_outside_layers(model, layers, device)
    try:
        yield
    finally:
        _place_outside_layers(model, layers, home)


def _place_outside_layers(model: nn.Module, layers: nn.ModuleList, device: torch.device) -> None:
    """Move every parameter and buffer outside the decoder layers (embeddings, rotary tables, final norm,
    lm_head) to `device`; the decoder layers stay where they are."""
    inside = {id(module) for module in layers.modules()}
    for module in model.modules():
        if id(module) in inside:
            continue
        for name, parameter in module.named_parameters(recurse=False):
            parameter.data = parameter.data.to(device)
        for name, buffer in module.named_buffers(recurse=False):
            module._buffers[name] = buffer.to(device)


def gather_statistics(
    layer: nn.Module,
    linears: dict[str, nn.Linear],
    states: list,
    token_weights: list[torch.Tensor] | None = None,
    share: bool = True,
) -> dict[str, InputStatistics]:
    """Each linear layer's input statistics over the calibration sequences, read by forward pre-hooks.

    With `share`, a module whose input is the very tensor another module received in the first sequence's
    forward gets that module's statistics (the same object), and only the first of them accumulates. After the
    first sequence, each forward stops once the last linear layer has its input: its output (down_proj's
    matmul, in a transformer) is never needed here."""
    statistics = {name: InputStatistics(module.in_features) for name, module in linears.items()}
    followers: set[str] = set()
    first_inputs: list[tuple[torch.Tensor, str]] = []  # kept alive during the first forward, so `is` is sound
    call_order: list[str] = []
    current: dict = {"weights": None, "first": True, "last": None}

    def hook(name):
        def accumulate(_module, inputs):
            x = inputs[0]
            if current["first"]:
                call_order.append(name)
            if name not in followers:
                if share and current["first"]:
                    leader = next((owner for tensor, owner in first_inputs if tensor is x), None)
                    if leader is not None:
                        followers.add(name)
                        statistics[name] = statistics[leader]
                    else:
                        first_inputs.append((x, name))
                if name not in followers:
                    statistics[name].add(x, current["weights"])
            if name == current["last"]:
                raise _StopForward

        return accumulate

    handles = [module.register_forward_pre_hook(hook(name)) for name, module in linears.items()]
    try:
        for index, (hidden, kwargs) in enumerate(states):
            current["weights"] = token_weights[index] if token_weights is not None else None
            try:
                _layer_output(layer, hidden, kwargs)
            except _StopForward:
                pass
            if current["first"]:
                current["first"] = False
                first_inputs.clear()
                # stop early only when every linear layer ran exactly once, so nothing after the last is lost
                if call_order and sorted(call_order) == sorted(linears):
                    current["last"] = call_order[-1]
    finally:
        for handle in handles:
            handle.remove()
    return statistics


@torch.no_grad()
def prune_model(
    model: nn.Module,
    prune: PruneFunction,
    target: SparsityTarget,
    calibration: list[torch.Tensor] | None,
    ignore: str | None = None,
    progress: bool = True,
    token_weights: list[torch.Tensor] | None = None,
    share_statistics: bool = True,
    device: torch.device | str | None = None,
    passes: PassSettings = PassSettings(),
) -> PruningReport:
    """Prune every decoder linear layer in place. With `calibration` (token id tensors), layers are pruned
    sequentially on the activations of the already-pruned layers before them; `token_weights` (one tensor per
    sequence) weigh each token's contribution to the Hessian.

    With a `device` other than the model's (a GPU for a model kept on the CPU), the model is pruned by layer-wise
    offloading: the parts outside the decoder layers are on the device while the calibration inputs are
    captured, then one decoder layer at a time. A model larger than the GPU prunes this way."""
    started = time.perf_counter()
    layers = find_decoder_layers(model)
    home = next(model.parameters()).device
    device = torch.device(device) if device is not None else home
    report = PruningReport()
    states = weights = None
    if calibration is not None:
        report.calibration_tokens = _calibration_tokens(calibration, layers[0], ignore)
        batches, weights = batch_equal_lengths(calibration, token_weights, _batch_tokens(passes, device))
        store = device if _states_on_device(passes, model, report.calibration_tokens, home, device) else home
        with _outside_layers_on(model, layers, device):
            states = _capture_first_layer_inputs(model, layers[0], batches, device, store)
    phases = dict.fromkeys(("capture", "statistics", "prune", "propagate"), 0.0)
    phases["capture"] = _elapsed(started, device)
    for index, layer in enumerate(tqdm(layers, desc="pruning layers", disable=not progress, leave=False)):
        layer_started = time.perf_counter()
        layer.to(device)
        linears = prunable_linears(layer, ignore)
        statistics = None
        if states is not None:
            statistics = gather_statistics(layer, linears, states, weights, share_statistics)
        phases["statistics"] += _elapsed(layer_started, device)
        needed = states is not None and (index + 1 < len(layers) or passes.lm_head)  # else its outputs feed nothing
        dense_outputs = _propagated(layer, states) if needed and not passes.sequential else None
        for name, module in linears.items():
            module_statistics = statistics[name] if statistics is not None else None
            report.layers.append(_prune_linear(f"layers.{index}.{name}", module, prune, module_statistics, target))
            phases["prune"] += report.layers[-1].seconds
        statistics = None  # Hessians and their factors are freed before the propagation's outputs arrive
        propagate_started = time.perf_counter()
        if needed:
            states = dense_outputs if dense_outputs is not None else _propagated(layer, states)
        phases["propagate"] += _elapsed(propagate_started, device)
        layer.to(home)
        report.decoder_layer_seconds.append(time.perf_counter() - layer_started)
    if passes.lm_head:
        with _outside_layers_on(model, layers, device):
            report.layers.append(_prune_head(model, prune, target, states, weights, device))
    report.phase_seconds = phases
    report.seconds = time.perf_counter() - started
    return report


def _propagated(layer: nn.Module, states: list) -> list:
    return [(_layer_output(layer, hidden, kwargs), kwargs) for hidden, kwargs in states]


def _prune_head(model: nn.Module, prune: PruneFunction, target: SparsityTarget, states, weights, device) -> LayerReport:
    """The output head, calibrated on the final norm of the last decoder layer's outputs (what it reads)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    norm = getattr(model.get_decoder(), "norm", None) if hasattr(model, "get_decoder") else None
    if not isinstance(head, nn.Linear) or norm is None:
        raise ConfigError(
            f"pruning the output head needs an nn.Linear head and a final norm at get_decoder().norm; "
            f"{type(model).__name__} has neither: leave pruning.lm_head off"
        )
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None and embeddings.weight is head.weight:
        log.warning("the output head is tied to the input embeddings: pruning it prunes them too")
    statistics = None
    if states is not None:
        statistics = InputStatistics(head.in_features)
        for index, (hidden, _) in enumerate(states):
            statistics.add(norm(hidden.to(device)), weights[index] if weights is not None else None)
    return _prune_linear("lm_head", head, prune, statistics, target)


def _prune_linear(
    name: str, module: nn.Linear, prune: PruneFunction, statistics: InputStatistics | None, target: SparsityTarget
) -> LayerReport:
    started = time.perf_counter()
    dense = module.weight.detach().clone()
    pruned = prune(dense, statistics, target)
    module.weight.copy_(pruned)
    return LayerReport(
        name=name,
        sparsity=float((pruned == 0).float().mean()),
        relative_error=statistics.relative_error(dense, pruned) if statistics is not None else None,
        seconds=time.perf_counter() - started,
    )


def _calibration_tokens(calibration: list[torch.Tensor], first_layer: nn.Module, ignore: str | None) -> int:
    if not calibration or all(len(ids) == 0 for ids in calibration):
        raise CalibrationError("the calibration set is empty; give at least one non-empty sequence")
    tokens = int(sum(len(ids) for ids in calibration))
    widest = max((m.in_features for m in prunable_linears(first_layer, ignore).values()), default=0)
    if tokens < widest:
        log.warning(
            "only %d calibration tokens for layer inputs %d wide: H is rank-deficient and only dampening keeps "
            "it invertible (the RAC authors' code calibrates on 1,000,000 tokens)",
            tokens,
            widest,
        )
    return tokens


def batch_equal_lengths(
    sequences: list[torch.Tensor], token_weights: list[torch.Tensor] | None, batch_tokens: int
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Token id batches (sequences x length) for the layer forwards, and their token weights concatenated alike.
    With `batch_tokens`, sequences of equal length are stacked, at most `batch_tokens` tokens (and at least one
    sequence) a batch, lengths in order of first appearance; with 0, one sequence a batch, in order. Nothing is
    padded, so every token of a batch is a calibration token and causal attention sees what it saw alone."""
    if batch_tokens:
        by_length: dict[int, list[int]] = {}
        for index, ids in enumerate(sequences):
            by_length.setdefault(len(ids), []).append(index)
        groups = []
        for length, members in by_length.items():
            size = max(1, batch_tokens // max(1, length))
            groups += [members[start : start + size] for start in range(0, len(members), size)]
    else:
        groups = [[index] for index in range(len(sequences))]
    batches = [torch.stack([sequences[index].reshape(-1) for index in group]) for group in groups]
    if token_weights is None:
        return batches, None
    return batches, [torch.cat([token_weights[index].reshape(-1) for index in group]) for group in groups]


def _batch_tokens(passes: PassSettings, device: torch.device) -> int:
    if passes.batch_tokens is not None:
        return passes.batch_tokens
    return BATCH_TOKENS_ON_CUDA if device.type == "cuda" else 0


def _states_on_device(passes: PassSettings, model: nn.Module, tokens: int, home, device: torch.device) -> bool:
    """Whether the states between layers stay on the device when offloading ("auto": when a layer's inputs and
    outputs, held together during its propagation, fit in STATES_SHARE_OF_FREE of the device's free memory)."""
    if device == home:
        return True
    if passes.states != "auto":
        return passes.states == "device"
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if device.type != "cuda" or embeddings is None:
        return False
    needed = 2 * tokens * embeddings.weight.shape[1] * embeddings.weight.element_size()
    free, _ = torch.cuda.mem_get_info(device)
    return needed <= STATES_SHARE_OF_FREE * free


def _elapsed(since: float, device: torch.device) -> float:
    """Seconds since `since`, once the device has done the work queued so far (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - since

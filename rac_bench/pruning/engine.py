"""The layer-sequential engine: run the calibration sequences through the model one decoder layer at a
time, gather each prunable matrix's input statistics, let an algorithm prune it, then feed the pruned layer's
outputs to the next layer. Which matrices a layer holds is rac_bench.pruning.layout's decision (linear weights and
per-expert slices of 3-D expert tensors); every layer gets the keyword arguments the model's own forward gives it
(rac_bench.pruning.capture), and experts get the tokens routed to them (rac_bench.pruning.experts). The output
head is pruned only with `PassSettings(lm_head=True)` (the RAC authors' code prunes every nn.Linear), and the input
embeddings only then, when they are tied to it. `PassSettings(sequential=False)` takes every layer's statistics
from the dense model's activations instead of the pruned layers' before it.

On a GPU (`device="cuda"` for a model kept on the CPU) only one decoder layer is on the device at a time. The hidden
states between layers stay on the device when they fit in half its free memory, else in pinned host memory with
non-blocking copies; equal-length calibration sequences share one forward (`PassSettings`).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from rac_bench.errors import CalibrationError, ConfigError, RacBenchError
from rac_bench.pruning.capture import capture_layer_inputs
from rac_bench.pruning.layer_statistics import gather_statistics, layer_output
from rac_bench.pruning.layout import LayerLayout, dense_by_rule, find_decoder_layers, model_layouts
from rac_bench.pruning.magnitude import magnitude_prune
from rac_bench.pruning.passes import PassSettings, batch_equal_lengths, batch_tokens, states_on_device
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.statistics import InputStatistics

log = logging.getLogger(__name__)

# weight, statistics (None when the algorithm needs no calibration), target -> pruned weight
PruneFunction = Callable[[torch.Tensor, "InputStatistics | None", SparsityTarget], torch.Tensor]

@dataclass
class LayerReport:
    name: str  # layers.<i>.<module>, or layers.<i>.<expert tensor>[<expert>]
    weights: int
    sparsity: float
    relative_error: float | None
    seconds: float
    tokens: int | None = None  # calibration tokens that reached it (an expert: routed to it)
    statistics: str | None = None  # for experts and fallbacks: which tokens its statistics came from


@dataclass
class PruningReport:
    layers: list[LayerReport] = field(default_factory=list)
    calibration_tokens: int = 0
    seconds: float = 0.0
    # wall time of each decoder layer, and of the engine's phases summed over layers: capture (embeddings up
    # to the first layer), statistics (forward with hooks), prune (solver + error report), propagate (forward)
    decoder_layer_seconds: list[float] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    dense_by_rule: dict[str, list[str]] = field(default_factory=dict)  # rule -> parameter names within a layer
    expert_routing: str = "routed"

    @property
    def sparsity(self) -> float:
        """Zeros over the weights the solver was handed (what it did; the achieved record reads the saved weights)."""
        total = sum(layer.weights for layer in self.layers)
        return sum(layer.sparsity * layer.weights for layer in self.layers) / total if total else 0.0

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
            "dense_by_rule": self.dense_by_rule,
            "expert_routing": self.expert_routing,
            "layers": [asdict(layer) for layer in self.layers],
        }


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
    """Prune every prunable matrix of the decoder layers in place (rac_bench.pruning.layout says which). With
    `calibration` (token id tensors), layers are pruned sequentially on the activations of the already-pruned
    layers before them; `token_weights` (one tensor per sequence) weigh each token's contribution to the Hessian.

    With a `device` other than the model's (a GPU for a model kept on the CPU), the model is pruned by layer-wise
    offloading: the parts outside the decoder layers are on the device while the calibration inputs are
    captured, then one decoder layer at a time. A model larger than the GPU prunes this way."""
    started = time.perf_counter()
    layers = find_decoder_layers(model)
    layouts = model_layouts(model, ignore)
    home = next(model.parameters()).device
    device = torch.device(device) if device is not None else home
    report = PruningReport(dense_by_rule=dense_by_rule(layouts), expert_routing=passes.experts)
    hidden = arguments = weights = None
    if calibration is not None:
        report.calibration_tokens = _calibration_tokens(calibration, layers[0], layouts[0])
        batches, weights = batch_equal_lengths(calibration, token_weights, batch_tokens(passes, device))
        store = device if states_on_device(passes, model, report.calibration_tokens, home, device) else home
        with _outside_layers_on(model, layers, device):
            hidden, arguments = capture_layer_inputs(model, layers, batches, device, store)
    job = _Job(prune, target, weights, passes, share_statistics, device, home)
    report.phase_seconds = dict.fromkeys(("capture", "statistics", "prune", "propagate"), 0.0)
    report.phase_seconds["capture"] = _elapsed(started, device)
    for index, layer in enumerate(tqdm(layers, desc="pruning layers", disable=not progress, leave=False)):
        states = list(zip(hidden, arguments[index])) if hidden is not None else None
        outputs = _prune_layer(job, index, layer, layouts[index], states, index + 1 == len(layers), report)
        if outputs is not None:
            hidden = outputs
    if passes.lm_head:
        with _outside_layers_on(model, layers, device):
            report.layers.append(_prune_head(model, prune, target, hidden, weights, device))
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class _Job:
    """What every layer of one prune_model call is pruned with."""

    prune: PruneFunction
    target: SparsityTarget
    weights: list | None  # token weights per calibration batch
    passes: PassSettings
    share_statistics: bool
    device: torch.device
    home: torch.device


def _prune_layer(job: _Job, index: int, layer, layout: LayerLayout, states, last: bool, report: PruningReport):
    """Gather one decoder layer's statistics, prune its matrices and return its outputs for the next layer (None
    when nothing reads them), timing each phase into `report`."""
    phases, started, passes = report.phase_seconds, time.perf_counter(), job.passes
    layer.to(job.device)
    statistics = None
    if states is not None:
        statistics = gather_statistics(
            layer, layout, states, job.weights, job.share_statistics, passes.experts, passes.expert_min_tokens
        )
    phases["statistics"] += _elapsed(started, job.device)
    needed = states is not None and (not last or passes.lm_head)  # else its outputs feed nothing
    dense_outputs = _propagated(layer, states) if needed and not passes.sequential else None
    for weight in layout.prunable:
        for expert, matrix in enumerate(weight.matrices(layer.get_parameter(weight.name))):
            name = f"layers.{index}.{weight.label}" + (f"[{expert}]" if weight.experts else "")
            report.layers.append(_prune_matrix(name, matrix, job.prune, statistics, weight, expert, job.target))
            phases["prune"] += report.layers[-1].seconds
    statistics = None  # Hessians and their factors are freed before the propagation's outputs arrive
    propagate_started = time.perf_counter()
    outputs = None
    if needed:
        outputs = dense_outputs if dense_outputs is not None else _propagated(layer, states)
    phases["propagate"] += _elapsed(propagate_started, job.device)
    layer.to(job.home)
    report.decoder_layer_seconds.append(time.perf_counter() - started)
    return outputs


def _propagated(layer: nn.Module, states: list) -> list:
    return [layer_output(layer, hidden, kwargs) for hidden, kwargs in states]


def _prune_head(model: nn.Module, prune: PruneFunction, target: SparsityTarget, hidden, weights, device) -> LayerReport:
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
    if hidden is not None:
        statistics = InputStatistics(head.in_features)
        for index, states in enumerate(hidden):
            statistics.add(norm(states.to(device)), weights[index] if weights is not None else None)
    return _pruned("lm_head", head.weight, prune, statistics, target)


def _prune_matrix(name, matrix, prune, statistics, weight, expert: int, target: SparsityTarget) -> LayerReport:
    """One [out, in] matrix (a view into its parameter) pruned in place, with its statistics. A matrix that no
    calibration token reached is pruned by magnitude: its Hessian is zero, so SparseGPT would zero it whole."""
    if statistics is None:
        return _pruned(name, matrix, prune, None, target)
    matrix_statistics, tokens = statistics.of(weight, expert), statistics.tokens(weight, expert)
    if matrix_statistics.tokens == 0:
        report = _pruned(name, matrix, magnitude_prune, None, target)
        report.statistics = "none reached it: pruned by magnitude"
    else:
        report = _pruned(name, matrix, prune, matrix_statistics, target)
        report.statistics = statistics.source(weight, expert)
    report.tokens = tokens
    return report


class MatrixPruneError(Exception):
    """The prune function raised on one matrix (the cause is chained); `matrix` names it."""

    def __init__(self, matrix: str):
        super().__init__(matrix)
        self.matrix = matrix


def _pruned(name: str, matrix: torch.Tensor, prune: PruneFunction, statistics, target: SparsityTarget) -> LayerReport:
    started = time.perf_counter()
    dense = matrix.detach().clone(memory_format=torch.contiguous_format)
    try:
        pruned = prune(dense, statistics, target)
        matrix.copy_(pruned)
    except RacBenchError:
        raise
    except Exception as error:
        raise MatrixPruneError(name) from error
    return LayerReport(
        name=name,
        weights=pruned.numel(),
        sparsity=float((pruned == 0).float().mean()),
        relative_error=statistics.relative_error(dense, pruned) if statistics is not None else None,
        seconds=time.perf_counter() - started,
        tokens=statistics.tokens if statistics is not None else None,
    )


def _calibration_tokens(calibration: list[torch.Tensor], first_layer: nn.Module, layout: LayerLayout) -> int:
    if not calibration or all(len(ids) == 0 for ids in calibration):
        raise CalibrationError("the calibration set is empty; give at least one non-empty sequence")
    tokens = int(sum(len(ids) for ids in calibration))
    widest = max((w.in_features(first_layer.get_parameter(w.name)) for w in layout.prunable), default=0)
    if tokens < widest:
        log.warning(
            "only %d calibration tokens for layer inputs %d wide: H is rank-deficient and only dampening keeps "
            "it invertible (the RAC authors' code calibrates on 1,000,000 tokens)",
            tokens,
            widest,
        )
    return tokens


def _elapsed(since: float, device: torch.device) -> float:
    """Seconds since `since`, once the device has done the work queued so far (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - since

"""The structured traversal: make a model physically smaller to the shape a StructurePlan decides
(rac_bench.pruning.shape). Depth first: one pass of the dense model scores every decoder layer's Block Influence
(rac_bench.pruning.depth) and the least influential layers are removed. Then width, one decoder layer at a time on
the outputs of the layers already narrowed before it (as the unstructured engine calibrates): the inputs of o_proj
and down_proj are gathered, whole KV groups and MLP channels are chosen by importance and removed, and the
projection that read them is refitted by least squares (rac_bench.pruning.width). Last, the config is given the
new shape, so the saved checkpoint is a standard one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from rac_bench.errors import CalibrationError
from rac_bench.pruning.capture import capture_layer_inputs
from rac_bench.pruning.depth import BlockInfluence, least_influential
from rac_bench.pruning.layer_statistics import layer_output
from rac_bench.pruning.layout import find_decoder_layers
from rac_bench.pruning.passes import batch_equal_lengths
from rac_bench.pruning.shape import StructurePlan
from rac_bench.pruning.statistics import InputStatistics
from rac_bench.pruning.surgery import keep_outputs, projections, remove_layers, set_config_shape, set_inputs
from rac_bench.pruning.width import channel_scores, group_channels, kept_groups, reconstruct, relative_error


@dataclass
class NarrowedLayer:
    index: int  # in the model after depth pruning
    attention_error: float | None  # o_proj's relative output error after its refit (None: no head removed)
    mlp_error: float | None  # down_proj's
    kept_kv_groups: list[int]


@dataclass
class StructuredReport:
    method: str
    shape: dict  # the shape left: layers, intermediate, heads, kv_heads, ...
    removed_layers: list[int] = field(default_factory=list)  # indices in the dense model
    block_influence: list[float] = field(default_factory=list)  # per dense layer (depth only)
    layers: list[NarrowedLayer] = field(default_factory=list)
    calibration_tokens: int = 0
    sparsity: float = 0.0  # the removed fraction planned; the achieved record counts the saved weights
    seconds: float = 0.0

    @property
    def mean_relative_error(self) -> float | None:
        errors = [e for layer in self.layers for e in (layer.attention_error, layer.mlp_error) if e is not None]
        return sum(errors) / len(errors) if errors else None

    def to_dict(self) -> dict:
        return {**asdict(self), "mean_relative_error": self.mean_relative_error}


@torch.no_grad()
def restructure_model(
    model: nn.Module,
    plan: StructurePlan,
    calibration: list[torch.Tensor],
    token_weights: list[torch.Tensor] | None = None,
    progress: bool = True,
) -> StructuredReport:
    """Shrink `model` in place to `plan.result`, calibrated on `calibration` (token id tensors)."""
    started = time.perf_counter()
    if not calibration or all(len(ids) == 0 for ids in calibration):
        raise CalibrationError("the calibration set is empty; give at least one non-empty sequence")
    report = StructuredReport(plan.method, asdict(plan.result), sparsity=plan.removed_fraction)
    report.calibration_tokens = int(sum(len(ids) for ids in calibration))
    layers = find_decoder_layers(model)
    for layer in layers:
        projections(layer)  # every layer has the layout, checked before anything changes
    batches, weights = batch_equal_lengths(calibration, token_weights, 0)
    hidden, arguments = capture_layer_inputs(model, layers, batches)
    if plan.removed_layers:
        report.block_influence = _block_influences(layers, hidden, arguments, weights, progress)
        report.removed_layers = least_influential(report.block_influence, plan.removed_layers)
        remove_layers(model, report.removed_layers)
        arguments = [kwargs for index, kwargs in enumerate(arguments) if index not in report.removed_layers]
        layers = find_decoder_layers(model)
    if plan.removed_channels or plan.removed_kv_groups:
        for index, layer in enumerate(tqdm(layers, desc="narrowing layers", disable=not progress, leave=False)):
            states = list(zip(hidden, arguments[index]))
            report.layers.append(_narrow_layer(index, layer, plan, states, weights))
            if index + 1 < len(layers):
                hidden = [layer_output(layer, states_in, kwargs) for states_in, kwargs in states]
    set_config_shape(model, plan.result)
    report.seconds = time.perf_counter() - started
    return report


def _block_influences(layers, hidden, arguments, weights, progress: bool) -> list[float]:
    """Every dense layer's Block Influence over the calibration tokens, in one pass."""
    influences = []
    for index, layer in enumerate(tqdm(layers, desc="block influence", disable=not progress, leave=False)):
        influence, outputs = BlockInfluence(), []
        for batch, (states, kwargs) in enumerate(zip(hidden, arguments[index])):
            outputs.append(layer_output(layer, states, kwargs))
            influence.add(states, outputs[-1], weights[batch] if weights is not None else None)
        influences.append(influence.value)
        hidden = outputs
    return influences


def _narrow_layer(index: int, layer: nn.Module, plan: StructurePlan, states: list, weights) -> NarrowedLayer:
    """Remove the least important KV groups and MLP channels of one layer and refit o_proj and down_proj."""
    linear = projections(layer)
    statistics = _projection_inputs(layer, linear, ("o_proj", "down_proj"), states, weights)
    dense, result = plan.dense, plan.result
    narrowed = NarrowedLayer(index, None, None, list(range(dense.kv_heads)))
    if plan.removed_kv_groups:
        hessian = statistics["o_proj"].hessian
        group_width = dense.head_dim * dense.heads // dense.kv_heads
        groups = kept_groups(channel_scores(linear["o_proj"].weight, hessian), group_width, result.kv_heads)
        columns = group_channels(groups, group_width)
        narrowed.attention_error = _refit(linear["o_proj"], hessian, columns)
        keep_outputs(linear["q_proj"], columns)
        for name in ("k_proj", "v_proj"):
            keep_outputs(linear[name], group_channels(groups, dense.head_dim))
        narrowed.kept_kv_groups = groups.tolist()
    if plan.removed_channels:
        hessian = statistics["down_proj"].hessian
        scores = channel_scores(linear["down_proj"].weight, hessian)
        channels = torch.sort(torch.topk(scores, result.intermediate).indices).values
        narrowed.mlp_error = _refit(linear["down_proj"], hessian, channels)
        keep_outputs(linear["gate_proj"], channels)
        keep_outputs(linear["up_proj"], channels)
    return narrowed


def _refit(linear: nn.Linear, hessian: torch.Tensor, keep: torch.Tensor) -> float:
    """`linear` reads only the inputs `keep`, its weight refitted; returns its relative output error."""
    refitted = reconstruct(linear.weight, hessian, keep)
    error = relative_error(linear.weight, hessian, keep, refitted)
    set_inputs(linear, refitted)
    return error


def _projection_inputs(layer: nn.Module, linear: dict, names: tuple, states: list, weights) -> dict:
    """The input statistics of the projections `names` over the layer's calibration states."""
    statistics = {name: InputStatistics(linear[name].in_features) for name in names}
    current = {"batch": 0}

    def recorder(name: str):
        def hook(module, args):
            batch = current["batch"]
            statistics[name].add(args[0], weights[batch] if weights is not None else None)

        return hook

    handles = [linear[name].register_forward_pre_hook(recorder(name)) for name in names]
    try:
        for batch, (states_in, kwargs) in enumerate(states):
            current["batch"] = batch
            layer_output(layer, states_in, kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return statistics

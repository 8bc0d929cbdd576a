"""Expert pruning: remove whole experts of every mixture-of-experts layer, the router's rows with them.

Which experts go is decided by a saliency over the calibration tokens, in one pass of the dense model:
- `reap` (the default), REAP's (Lasby et al., 2025, arXiv 2510.13999, eq. 9): S_j = mean over the tokens x routed to
  expert j of g_j(x) * ||f_j(x)||, the router's weight times the norm of the expert's output: an expert that is
  rarely chosen, weakly weighted, or adds little is the one whose removal changes the layer's output least;
- `frequency`: how many calibration tokens the router sends the expert (the count REAP compares against).
An expert no token reached scores 0. Each expert's output f_j(x) comes from transformers' eager experts forward
called on its routed tokens alone with weight 1 (rac_bench.pruning.experts does the same to record inputs), so GPT-OSS's
layout and biases need no code of their own. Shared experts are not routed, so they stay.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from rac_bench.pruning.capture import capture_layer_inputs
from rac_bench.pruning.expert_plan import ExpertPlan
from rac_bench.pruning.experts import _eager_forward
from rac_bench.pruning.layer_statistics import layer_output
from rac_bench.pruning.layout import find_decoder_layers, model_layouts
from rac_bench.pruning.passes import batch_equal_lengths

SALIENCY = ("reap", "frequency")


@dataclass
class ExpertReport:
    method: str
    saliency: str
    shape: dict
    kept_experts: dict[str, list[int]] = field(default_factory=dict)  # layers.<i>.<experts module> -> kept
    routed_tokens: dict[str, list[int]] = field(default_factory=dict)
    calibration_tokens: int = 0
    sparsity: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {**self.__dict__, "mean_relative_error": None}


class _Saliency:
    """Per expert of one experts module: the sum of g_j(x) * ||f_j(x)|| and the routed token count."""

    def __init__(self, module: nn.Module, experts: int):
        self.module, self.sums, self.tokens = module, torch.zeros(experts), torch.zeros(experts)

    @torch.no_grad()
    def record(self, hidden, top_k_index, top_k_weights, token_weights=None) -> None:
        hidden = hidden.reshape(-1, hidden.shape[-1])
        weights = torch.ones(hidden.shape[0]) if token_weights is None else token_weights.reshape(-1).float()
        eager = _eager_forward(self.module)
        for expert in range(len(self.sums)):
            tokens, slot = torch.where(top_k_index == expert)
            if len(tokens) == 0:
                continue
            rows = hidden[tokens]
            index = torch.full((len(tokens), 1), expert, dtype=top_k_index.dtype, device=rows.device)
            outputs = eager(rows, index, torch.ones(len(tokens), 1, dtype=rows.dtype, device=rows.device))
            gates = top_k_weights[tokens, slot].float() if top_k_weights.dim() == 2 else top_k_weights[tokens].float()
            weight = weights[tokens].to(gates.device)
            self.sums[expert] += float((weight * gates * outputs.float().norm(dim=-1)).sum())
            self.tokens[expert] += float(weight.sum())

    def scores(self, kind: str) -> torch.Tensor:
        return self.tokens.clone() if kind == "frequency" else self.sums / self.tokens.clamp_min(1)


@torch.no_grad()
def remove_experts(
    model: nn.Module,
    plan: ExpertPlan,
    calibration: list[torch.Tensor],
    token_weights: list[torch.Tensor] | None = None,
    progress: bool = True,
    saliency: str = "reap",
) -> ExpertReport:
    """Remove plan.removed_experts experts of lowest saliency from every MoE layer of `model`, in place; token
    weights (--cot-weight) weigh each token's part in the saliency."""
    started = time.perf_counter()
    report = ExpertReport(plan.method, saliency, asdict(plan.result), sparsity=plan.removed_fraction)
    report.calibration_tokens = int(sum(len(ids) for ids in calibration))
    layers = find_decoder_layers(model)
    batches, weights = batch_equal_lengths(calibration, token_weights, 0)
    hidden, arguments = capture_layer_inputs(model, layers, batches)
    for index, (layer, layout) in enumerate(zip(layers, model_layouts(model))):
        names = sorted({weight.module for weight in layout.prunable if weight.experts})
        saliencies = {name: _Saliency(layer.get_submodule(name), plan.dense.experts) for name in names}
        outputs = []
        for batch, (states, kwargs) in enumerate(zip(hidden, arguments[index])):
            with _recording(saliencies, weights[batch] if weights is not None else None):
                outputs.append(layer_output(layer, states, kwargs))
        hidden = outputs
        for name, measured in saliencies.items():
            keep = torch.sort(torch.topk(measured.scores(saliency), plan.result.experts).indices).values
            _keep_experts(layer, name, keep, plan.dense.experts)
            report.kept_experts[f"layers.{index}.{name}"] = keep.tolist()
            report.routed_tokens[f"layers.{index}.{name}"] = [int(t) for t in measured.tokens]
    plan.apply(model.config)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _recording(saliencies: dict[str, _Saliency], token_weights):
    """Within the block, each experts module records its saliency before it runs as usual."""
    for measured in saliencies.values():
        original = measured.module.forward

        def forward(hidden, top_k_index, top_k_weights, *args, _measured=measured, _original=original, **kwargs):
            _measured.record(hidden, top_k_index, top_k_weights, token_weights)
            return _original(hidden, top_k_index, top_k_weights, *args, **kwargs)

        measured.module.forward = forward
    try:
        yield
    finally:
        for measured in saliencies.values():
            del measured.module.forward


def _keep_experts(layer: nn.Module, name: str, keep: torch.Tensor, experts: int) -> None:
    """The experts module `name` and its router keep only the experts `keep` (every tensor indexed by expert)."""
    parent_name, _, _ = name.rpartition(".")
    parent = layer.get_submodule(parent_name) if parent_name else layer
    routers = [child for child_name, child in parent.named_children() if _is_router(child_name, child, experts)]
    if len(routers) != 1:
        raise RuntimeError(f"{name}: found {len(routers)} routers beside it; expected one with {experts} rows")
    for module in (layer.get_submodule(name), routers[0]):
        for tensor_name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if tensor.dim() >= 1 and tensor.shape[0] == experts:
                kept = tensor.data.index_select(0, keep.to(tensor.device)).clone()
                if isinstance(tensor, nn.Parameter):
                    setattr(module, tensor_name, nn.Parameter(kept, requires_grad=False))
                else:
                    module._buffers[tensor_name] = kept
        for attribute in ("num_experts", "num_local_experts", "n_routed_experts"):
            if getattr(module, attribute, None) == experts:
                setattr(module, attribute, len(keep))


def _is_router(name: str, module: nn.Module, experts: int) -> bool:
    weight = getattr(module, "weight", None)
    named = name in ("gate", "router") or type(module).__name__.lower().endswith("router")
    return named and isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.shape[0] == experts

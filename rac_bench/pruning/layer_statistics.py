"""One decoder layer's input statistics over the calibration states: a forward pre-hook on each prunable
`nn.Linear`, and per-expert statistics for expert tensors (rac_bench.pruning.experts).

Linear layers that are handed the same input tensor (q/k/v projections; gate/up) share one statistics object,
found by identity of the tensor their hooks see in the first forward, not by names. After the first forward, each
forward stops once the last prunable module has its input: its output (down_proj's matmul, in a transformer) is
never needed here.
"""

from __future__ import annotations

from torch import nn

from rac_bench.pruning.capture import to_device
from rac_bench.pruning.expert_routing import DEFAULT_MIN_TOKENS
from rac_bench.pruning.experts import ExpertStatistics
from rac_bench.pruning.layout import LayerLayout, PrunableWeight
from rac_bench.pruning.statistics import InputStatistics


class _StopForward(Exception):
    pass


class LayerStatistics:
    """The statistics of every prunable matrix of a layer, looked up by weight and expert index."""

    def __init__(self, linears: dict[str, InputStatistics], experts: ExpertStatistics):
        self.linears, self.experts = linears, experts

    def of(self, weight: PrunableWeight, expert: int = 0) -> InputStatistics:
        return self.experts.of(weight.name, expert) if weight.experts else self.linears[weight.module]

    def tokens(self, weight: PrunableWeight, expert: int = 0) -> int:
        """Tokens that reached the matrix (for an expert: routed to it, whatever fed its statistics)."""
        if weight.experts:
            return self.experts.tokens.get((weight.module, expert), 0)
        return self.linears[weight.module].tokens

    def source(self, weight: PrunableWeight, expert: int = 0) -> str | None:
        """Which tokens an expert's statistics came from; None for a linear layer (the tokens it was given)."""
        return self.experts.source.get((weight.module, expert)) if weight.experts else None


def layer_output(layer: nn.Module, hidden, kwargs: dict):
    device = next(layer.parameters()).device
    output = layer(to_device(hidden, device), **to_device(kwargs, device))
    output = output[0] if isinstance(output, tuple) else output
    return output.to(hidden.device, non_blocking=True)  # states stay where they were kept


def gather_statistics(
    layer: nn.Module,
    layout: LayerLayout,
    states: list,
    token_weights: list | None = None,
    share: bool = True,
    expert_routing: str = "routed",
    expert_min_tokens: int = DEFAULT_MIN_TOKENS,
) -> LayerStatistics:
    """Statistics of every prunable matrix of `layer` over `states` ((hidden, kwargs) per batch)."""
    experts = ExpertStatistics(layer, list(layout.prunable), expert_routing, expert_min_tokens)
    linear_pass = _LinearInputs(layer, layout, share)
    handles = [
        layer.get_submodule(name).register_forward_pre_hook(linear_pass.hook(name)) for name in linear_pass.statistics
    ]
    try:
        with experts.recording(linear_pass.current_weights, linear_pass.visited):
            linear_pass.forwards(states, token_weights, list(experts.modules))
    finally:
        for handle in handles:
            handle.remove()
    starved = experts.starved()
    if starved:  # a second pass feeds every token to the experts the router left short
        order = [name for name in linear_pass.call_order if name in starved] or list(starved)
        linear_pass.last = order[-1]
        with experts.fallback_pass(starved), experts.recording(linear_pass.current_weights, linear_pass.visited):
            linear_pass.forwards(states, token_weights, list(experts.modules))
    experts.check_seen()
    return LayerStatistics(linear_pass.statistics, experts)


class _LinearInputs:
    """The forward passes of one layer: pre-hooks that accumulate each linear layer's inputs (shared by identity of
    the input tensor), and the early stop after the last prunable module's input."""

    def __init__(self, layer: nn.Module, layout: LayerLayout, share: bool):
        names = list(dict.fromkeys(w.module for w in layout.prunable if not w.experts))
        self.layer, self.share = layer, share
        self.statistics = {name: InputStatistics(layer.get_submodule(name).in_features) for name in names}
        self.followers: set[str] = set()
        self.first_inputs: list = []  # (tensor, owner), kept alive during the first forward, so `is` is sound
        self.call_order: list[str] = []
        self.weights, self.first, self.last = None, True, None

    def current_weights(self):
        return self.weights

    def visited(self, name: str) -> None:
        if self.first:
            self.call_order.append(name)
        if name == self.last:
            raise _StopForward

    def hook(self, name: str):
        def accumulate(_module, inputs):
            x = inputs[0]
            if name not in self.followers:
                if self.share and self.first:
                    leader = next((owner for tensor, owner in self.first_inputs if tensor is x), None)
                    if leader is not None:
                        self.followers.add(name)
                        self.statistics[name] = self.statistics[leader]
                    else:
                        self.first_inputs.append((x, name))
                if name not in self.followers:
                    self.statistics[name].add(x, self.weights)
            self.visited(name)

        return accumulate

    def forwards(self, states: list, token_weights: list | None, experts_modules: list[str]) -> None:
        for index, (hidden, kwargs) in enumerate(states):
            self.weights = token_weights[index] if token_weights is not None else None
            try:
                layer_output(self.layer, hidden, kwargs)
            except _StopForward:
                pass
            if self.first:
                self.first = False
                self.first_inputs.clear()
                # stop early only when every prunable module ran exactly once, so nothing after the last is lost
                if self.call_order and sorted(self.call_order) == sorted([*self.statistics, *experts_modules]):
                    self.last = self.call_order[-1]

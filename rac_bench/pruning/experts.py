"""Input statistics for expert matrices: each expert of a 3-D expert tensor is its own matrix, with statistics from
the tokens the router sends it (`routed`, what the model does) or from every calibration token (`all`, for
statistics only: llm-compressor's choice). The layer's output always follows the model's own routing.

How the inputs are seen, whatever the architecture: during a statistics pass each experts module's forward is
wrapped. Before it runs as usual, the module's eager forward (transformers' reference implementation, which
multiplies each expert's slice of its 3-D tensors) is called once per expert on that expert's tokens alone, and a
TorchFunctionMode records the input of every matmul whose weight is that expert's slice. So GPT-OSS's clamped GLU,
biases and `[experts, in, out]` layout need no code of their own.

An expert with fewer routed tokens than `min_tokens` would be calibrated on almost nothing (with none, SparseGPT
zeroes it and Wanda prunes at random), so it falls back to every calibration token passed through it, in a second
pass over the layer; the report records each expert's token count and which rule fed it.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from rac_bench.pruning.layout import PrunableWeight
from rac_bench.pruning.statistics import InputStatistics

# functions whose (input, weight) operands multiply an expert slice: linear(x, W[e]) with W[e] [out, in] and
# matmul(x, W[e]) with W[e] [in, out]
_LINEAR = {"linear"}
_MATMUL = {"matmul", "__matmul__", "mm"}


class _ExpertSliceInputs(TorchFunctionMode):
    """Records the input rows of every matmul whose weight is a slice of one of `tensors` at `expert`."""

    def __init__(self, tensors: dict[str, torch.Tensor], expert: int, record):
        super().__init__()
        self.tensors, self.expert, self.record = tensors, expert, record

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = getattr(func, "__name__", "")
        if (kind in _LINEAR or kind in _MATMUL) and len(args) >= 2 and isinstance(args[1], torch.Tensor):
            name = self._slice_of(args[1])
            if name is not None:
                self.record(name, self.expert, args[0])
        return func(*args, **kwargs)

    def _slice_of(self, weight: torch.Tensor) -> str | None:
        if weight.dim() != 2:
            return None
        for name, tensor in self.tensors.items():
            if (
                weight.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
                and weight.storage_offset() == tensor.storage_offset() + self.expert * tensor.stride(0)
                and sorted(weight.shape) == sorted(tensor.shape[1:])
            ):
                return name
        return None


def _eager_forward(module: nn.Module):
    """transformers' eager experts forward (the one `@use_experts_implementation` wraps), bound to `module`."""
    forward = type(module).forward
    return getattr(forward, "__wrapped__", forward).__get__(module)


class ExpertStatistics:
    """Per-expert statistics of one decoder layer's expert tensors, gathered while the layer runs forward."""

    def __init__(self, layer: nn.Module, weights: list[PrunableWeight], routing: str, min_tokens: int):
        self.routing, self.min_tokens = routing, min_tokens
        self.weights = {w.name: w for w in weights if w.experts}
        self.modules: dict[str, list[PrunableWeight]] = {}
        for weight in self.weights.values():
            self.modules.setdefault(weight.module, []).append(weight)
        self.layer = layer
        self.statistics: dict[tuple[str, int], InputStatistics] = {}
        self.tokens: dict[tuple[str, int], int] = {}  # (module, expert) -> routed tokens seen
        self.source: dict[tuple[str, int], str] = {}  # (module, expert) -> which tokens its statistics came from
        self._fallback: dict[str, set[int]] | None = None  # the second pass: module -> experts fed every token

    @contextmanager
    def recording(self, token_weights, visited):
        """Within the block, the layer's experts modules record statistics as they run. `token_weights()` gives the
        current batch's weights (None: 1); `visited(module_name)` is called after each one's statistics, and may
        raise to stop the forward there."""
        saved = {}
        for module_name in self.modules:
            module = self.layer.get_submodule(module_name)
            saved[module_name] = module.__dict__.get("forward")
            module.forward = self._wrapped(module_name, module, token_weights, visited)
        try:
            yield
        finally:
            for module_name, forward in saved.items():
                module = self.layer.get_submodule(module_name)
                del module.forward
                if forward is not None:
                    module.forward = forward

    def _wrapped(self, module_name: str, module: nn.Module, token_weights, visited):
        original = module.forward

        def forward(hidden_states, top_k_index, top_k_weights, *args, **kwargs):
            self._record(module_name, module, hidden_states, top_k_index, token_weights())
            visited(module_name)
            return original(hidden_states, top_k_index, top_k_weights, *args, **kwargs)

        return forward

    def _record(self, module_name: str, module: nn.Module, hidden, top_k_index, weights) -> None:
        tensors = {w.name: module.get_parameter(w.name.rpartition(".")[2]) for w in self.modules[module_name]}
        experts = self.modules[module_name][0].experts
        hidden = hidden.reshape(-1, hidden.shape[-1])
        every = self._fallback.get(module_name, set()) if self._fallback is not None else None
        eager = _eager_forward(module)
        for expert in range(experts):
            routed = (top_k_index == expert).any(dim=-1)
            if self._fallback is None:
                key = (module_name, expert)
                self.tokens[key] = self.tokens.get(key, 0) + int(routed.sum())
                self.source[key] = self.routing
                chosen = routed if self.routing == "routed" else torch.ones_like(routed)
            elif expert in every:
                chosen = torch.ones_like(routed)
            else:
                continue
            if not bool(chosen.any()):
                continue
            rows = hidden[chosen]
            row_weights = weights.reshape(-1)[chosen] if weights is not None else None
            index = torch.full((rows.shape[0], 1), expert, dtype=top_k_index.dtype, device=rows.device)
            ones = torch.ones(rows.shape[0], 1, dtype=rows.dtype, device=rows.device)

            def record(name, expert_index, inputs, row_weights=row_weights):
                self._statistics(name, expert_index).add(inputs, row_weights)

            with _ExpertSliceInputs(tensors, expert, record):
                eager(rows, index, ones)

    def _statistics(self, name: str, expert: int) -> InputStatistics:
        key = (name, expert)
        if key not in self.statistics:
            weight = self.weights[name]
            self.statistics[key] = InputStatistics(weight.in_features(self.layer.get_parameter(name)))
        return self.statistics[key]

    def starved(self) -> dict[str, set[int]]:
        """module -> experts whose routed tokens fall short of the floor (only when statistics follow routing)."""
        if self.routing != "routed":
            return {}
        found: dict[str, set[int]] = {}
        for (module_name, expert), tokens in self.tokens.items():
            if tokens < self.min_tokens:
                found.setdefault(module_name, set()).add(expert)
        return found

    @contextmanager
    def fallback_pass(self, starved: dict[str, set[int]]):
        """Within the block, a forward records statistics from every token for the starved experts only, replacing
        what their few routed tokens gave."""
        for module_name, experts in starved.items():
            for weight in self.modules[module_name]:
                for expert in experts:
                    self.statistics.pop((weight.name, expert), None)
            for expert in experts:
                key = (module_name, expert)
                self.source[key] = f"all (fallback: {self.tokens[key]} routed tokens < {self.min_tokens})"
        self._fallback = starved
        try:
            yield
        finally:
            self._fallback = None

    def check_seen(self) -> None:
        """Every expert given tokens recorded an input for each of its tensors, or the module's forward hides them."""
        for (module_name, expert), source in self.source.items():
            given = self.tokens[(module_name, expert)] > 0 or source != "routed"
            for weight in self.modules[module_name]:
                if given and (weight.name, expert) not in self.statistics:
                    raise RuntimeError(
                        f"the eager forward of {module_name} never multiplied expert {expert}'s slice of "
                        f"{weight.name}: its inputs cannot be recorded"
                    )

    def of(self, name: str, expert: int) -> InputStatistics:
        """The statistics of one expert's matrix (empty when no token reached it, which the fallback prevents)."""
        return self._statistics(name, expert)

"""What enters the decoder layers: the first layer's hidden states and every layer's own keyword arguments.

Layers of different types get different arguments from the model's forward: Gemma2/3 and GPT-OSS give sliding-window
layers another mask (and Gemma3 other rotary embeddings) than full-attention ones; Qwen3-Next gives its linear-
attention layers their own mask. So the model's forward runs once per batch with every decoder layer replaced by a
recorder that keeps its arguments and passes the hidden states on: the masks and position embeddings are the ones
the model computes itself, and no layer's arithmetic runs. Arguments that layers share stay one tensor.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


class _StopForward(Exception):
    pass


def capture_layer_inputs(
    model: nn.Module,
    layers: nn.ModuleList,
    batches: list[torch.Tensor],
    device: torch.device | None = None,
    store: torch.device | None = None,
) -> tuple[list[torch.Tensor], list[list[dict]]]:
    """(hidden states entering the first layer per batch, keyword arguments per layer per batch), kept on `store`
    (default: where they were computed). A 1-D batch is one sequence; nothing is padded. use_cache=False: a cache
    passed into repeated per-layer calls would be read stale."""
    hidden_states: list[torch.Tensor] = []
    arguments: list[list[dict]] = [[] for _ in layers]
    for ids in batches:
        ids = ids.reshape(1, -1) if ids.dim() == 1 else ids
        moved: dict = {}  # one copy of each tensor the layers share

        def record(index: int, args, kwargs):
            kwargs = dict(kwargs)
            hidden = args[0] if args else kwargs.pop("hidden_states")
            for name in ("past_key_values", "past_key_value"):
                kwargs.pop(name, None)
            kwargs["use_cache"] = False
            if index == 0:
                hidden_states.append(to_device(hidden.detach(), store, moved) if store is not None else hidden.detach())
            arguments[index].append(to_device(kwargs, store, moved) if store is not None else kwargs)
            if index == len(layers) - 1:
                raise _StopForward
            return hidden

        with _recording_layers(layers, record):
            try:
                model(input_ids=ids.to(device or model.device), use_cache=False)
            except _StopForward:
                pass
    return hidden_states, arguments


@contextmanager
def _recording_layers(layers: nn.ModuleList, record):
    saved = [layer.__dict__.get("forward") for layer in layers]
    for index, layer in enumerate(layers):
        layer.forward = lambda *args, _index=index, **kwargs: record(_index, args, kwargs)
    try:
        yield
    finally:
        for layer, forward in zip(layers, saved):
            del layer.forward
            if forward is not None:
                layer.forward = forward


def to_device(value, device: torch.device, moved: dict | None = None):
    """Tensors, and tensors inside tuples, lists and dicts, on `device` (others unchanged); with `moved`, a tensor
    met twice is copied once. Copies do not block the host: a GPU's outputs land in pinned host memory, and pinned
    inputs go up asynchronously; the copies are ordered on the GPU's stream, which is the only reader of states kept
    on the host."""
    if isinstance(value, torch.Tensor):
        if moved is None:
            return value.to(device, non_blocking=True)
        if id(value) not in moved:  # the original is kept too, so its id is not reused while `moved` lives
            moved[id(value)] = (value, value.to(device, non_blocking=True))
        return moved[id(value)][1]
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(item, device, moved) for item in value)
    if isinstance(value, dict):
        return {key: to_device(item, device, moved) for key, item in value.items()}
    return value

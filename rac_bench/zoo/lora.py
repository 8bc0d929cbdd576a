"""Low-rank adapters (LoRA, Hu et al. 2021, arXiv 2106.09685) on every linear layer of a decoder's blocks.

Why our own and not `peft`: a dozen lines do what is needed here (train, save as safetensors, merge into the dense
weights), and the merged model is a plain Hugging Face model that every backend, pruning method and fingerprint
already handles. The adapter file holds, for each adapted matrix `W` (out x in), `A` (rank x in) and `B`
(out x rank); merging adds `scale * B @ A` to `W`, with `scale = alpha / rank`.
"""

from __future__ import annotations

import math

import torch

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoRALinear(torch.nn.Module):
    """A frozen linear layer plus a trainable low-rank update; B starts at zero, so training starts at the base."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float, generator: torch.Generator):
        super().__init__()
        self.base, self.scale = base, alpha / rank
        bound = 1.0 / math.sqrt(base.in_features)
        a = (torch.rand(rank, base.in_features, generator=generator) * 2 - 1) * bound
        self.lora_A = torch.nn.Parameter(a.to(base.weight.dtype))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, rank, dtype=base.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def _adapted_modules(model: torch.nn.Module):
    """(name, parent module, attribute) of every linear layer inside the decoder blocks that LoRA adapts."""
    for name, module in model.named_modules():
        for attribute in TARGETS:
            child = getattr(module, attribute, None)
            if isinstance(child, (torch.nn.Linear, LoRALinear)) and ".layers." in f"{name}.":
                yield f"{name}.{attribute}", module, attribute


def add_lora(model: torch.nn.Module, rank: int, alpha: float, seed: int) -> list[torch.nn.Parameter]:
    """Freeze `model`, wrap every targeted linear layer with an adapter, and return the adapters' parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    trainable = []
    for _, parent, attribute in list(_adapted_modules(model)):
        wrapped = LoRALinear(getattr(parent, attribute), rank, alpha, generator)
        setattr(parent, attribute, wrapped)
        trainable += [wrapped.lora_A, wrapped.lora_B]
    return trainable


def adapter_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The adapters of a model `add_lora` wrapped, by the adapted weight's name (`...q_proj.lora_A`), on the CPU."""
    tensors = {}
    for name, parent, attribute in _adapted_modules(model):
        module = getattr(parent, attribute)
        if isinstance(module, LoRALinear):
            tensors[f"{name}.lora_A"] = module.lora_A.detach().cpu().contiguous()
            tensors[f"{name}.lora_B"] = module.lora_B.detach().cpu().contiguous()
    return tensors


@torch.no_grad()
def merge_adapter(model: torch.nn.Module, tensors: dict[str, torch.Tensor], scale: float) -> int:
    """Add each adapter's `scale * B @ A` to its weight in a plain model; returns how many weights changed.
    Every adapter must name a weight of the model, and every weight is adapted at most once."""
    weights = dict(model.named_parameters())
    names = sorted({key.rsplit(".", 1)[0] for key in tensors})
    for name in names:
        weight = weights.get(f"{name}.weight")
        if weight is None:
            raise KeyError(f"adapter names {name}, which the model does not have")
        update = tensors[f"{name}.lora_B"].to(torch.float32) @ tensors[f"{name}.lora_A"].to(torch.float32)
        weight += (scale * update).to(weight.dtype)
    return len(names)

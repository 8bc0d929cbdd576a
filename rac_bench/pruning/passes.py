"""How the engine's calibration passes run: equal-length sequences batched into one forward, and, when a model is
pruned by offload (one decoder layer on the GPU at a time), where the hidden states between layers are kept."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rac_bench.errors import ConfigError
from rac_bench.pruning.expert_routing import DEFAULT_MIN_TOKENS, EXPERT_ROUTING

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
    # experts' statistics: "routed" (the tokens the router sends each expert) or "all" (every token, statistics only)
    experts: str = "routed"
    expert_min_tokens: int = DEFAULT_MIN_TOKENS  # fewer routed tokens: the expert's statistics take every token

    def __post_init__(self):
        if self.states not in STATE_PLACES:
            raise ConfigError(f"states {self.states!r} is not recognised; accepted: {', '.join(STATE_PLACES)}")
        if self.experts not in EXPERT_ROUTING:
            raise ConfigError(f"experts {self.experts!r} is not recognised; accepted: {', '.join(EXPERT_ROUTING)}")


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


def batch_tokens(passes: PassSettings, device: torch.device) -> int:
    if passes.batch_tokens is not None:
        return passes.batch_tokens
    return BATCH_TOKENS_ON_CUDA if device.type == "cuda" else 0


def states_on_device(passes: PassSettings, model: nn.Module, tokens: int, home, device: torch.device) -> bool:
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

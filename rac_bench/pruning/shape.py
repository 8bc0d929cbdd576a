"""The shape a structured method leaves, decided from the model's config alone (so `--dry-run` prints it and a budget
that cannot be met fails before anything is loaded or written).

The budget is a fraction S of the dense model's prunable weights (every decoder layer's q/k/v/o and gate/up/down
projection; rac_bench.pruning.layout), removed in the same counts from every layer so that `intermediate_size`,
`num_attention_heads` and `num_key_value_heads` stay single numbers:
- width: floor(S x KV groups) whole KV groups (a key/value head with its query heads), at least one group kept, and
  the rest of the budget as MLP intermediate channels;
- depth: floor(S x layers) whole decoder layers, at least one kept, and the rest of the budget (under one layer's
  worth) as MLP intermediate channels of the layers kept, so that the label is met within half a point.
Only the dense transformer layout is restructured: separate q/k/v/o and gate/up/down projections (Llama, Qwen2/3,
Mistral, Gemma, SmolLM). Fused projections (Phi-3) and mixture-of-experts layers are refused with one line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rac_bench.errors import ConfigError

STRUCTURED_METHODS = ("width", "depth")
UNSUPPORTED_FAMILIES = {  # model_type -> why it cannot be restructured yet
    "phi3": "its fused qkv_proj and gate_up_proj matrices are not split by this version",
}
EXPERT_FIELDS = ("num_experts", "num_local_experts", "n_routed_experts")


class StructureError(ConfigError):
    """A structured budget or model that cannot be restructured: one line, exit 2."""


@dataclass(frozen=True)
class Shape:
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    hidden: int
    head_dim: int

    @property
    def layer_weights(self) -> int:
        """Prunable weights of one decoder layer: q and o, k and v, gate, up and down."""
        attention = 2 * self.heads * self.head_dim + 2 * self.kv_heads * self.head_dim
        return self.hidden * (attention + 3 * self.intermediate)

    @property
    def prunable(self) -> int:
        return self.layers * self.layer_weights

    def describe(self) -> str:
        return (
            f"{self.layers} layers, intermediate {self.intermediate}, {self.heads} heads / {self.kv_heads} KV heads, "
            f"{self.prunable:,} prunable weights"
        )


@dataclass(frozen=True)
class StructurePlan:
    """What a structured method removes: whole layers, whole KV groups and channels per remaining layer."""

    method: str
    sparsity: float
    dense: Shape
    result: Shape

    @property
    def removed_layers(self) -> int:
        return self.dense.layers - self.result.layers

    @property
    def removed_kv_groups(self) -> int:
        return self.dense.kv_heads - self.result.kv_heads

    @property
    def removed_channels(self) -> int:
        return self.dense.intermediate - self.result.intermediate

    @property
    def removed_fraction(self) -> float:
        return 1 - self.result.prunable / self.dense.prunable

    def removal(self) -> str:
        """What is removed, in words (the `prune` command's pattern for a structured method)."""
        parts = [f"{self.removed_layers} of {self.dense.layers} layers"] if self.removed_layers else []
        if self.removed_kv_groups:
            parts.append(f"{self.removed_kv_groups} of {self.dense.kv_heads} KV groups")
        if self.removed_channels:
            parts.append(f"{self.removed_channels} of {self.dense.intermediate} MLP channels")
        per_layer = " per layer" if self.removed_kv_groups or self.removed_channels else ""
        return f"removed {', '.join(parts) or 'nothing'}{per_layer}"

    def apply(self, config) -> None:
        apply_shape(getattr(config, "text_config", None) or config, self.result)


def dense_shape(config) -> Shape:
    """The shape of a dense transformer's config; StructureError for a family this version cannot restructure."""
    config = getattr(config, "text_config", None) or config
    model_type = getattr(config, "model_type", "?")
    if model_type in UNSUPPORTED_FAMILIES:
        raise StructureError(f"{model_type} cannot be pruned structurally: {UNSUPPORTED_FAMILIES[model_type]}")
    if any(getattr(config, field, None) for field in EXPERT_FIELDS):
        raise StructureError(
            f"{model_type} is a mixture of experts: width and depth restructure dense transformer layers only "
            "(separate q/k/v/o and gate/up/down projections); its experts are pruned by the method `experts`"
        )
    needed = ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads")
    missing = [field for field in needed if not isinstance(getattr(config, field, None), int)]
    if missing:
        raise StructureError(f"{model_type}'s config has no single {', '.join(missing)}: it cannot be restructured")
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return Shape(config.num_hidden_layers, config.intermediate_size, heads, kv_heads, config.hidden_size, head_dim)


def plan_structure(method: str, config, sparsity: float) -> StructurePlan:
    """The shape `method` ("width" or "depth") leaves at `sparsity`; StructureError when it cannot be met."""
    if method not in STRUCTURED_METHODS:
        raise StructureError(f"{method!r} is not a structured method; accepted: {', '.join(STRUCTURED_METHODS)}")
    dense = dense_shape(config)
    budget = sparsity * dense.prunable
    if method == "depth":
        layers = min(int(sparsity * dense.layers), dense.layers - 1)
        shape = replace(dense, layers=dense.layers - layers)
        remainder = budget - layers * dense.layer_weights
    else:
        groups = min(int(sparsity * dense.kv_heads), dense.kv_heads - 1)
        heads = dense.heads - groups * (dense.heads // dense.kv_heads)
        shape = replace(dense, heads=heads, kv_heads=dense.kv_heads - groups)
        remainder = budget - (dense.prunable - shape.prunable)
    channels = round(remainder / (3 * dense.hidden * shape.layers))
    if channels >= dense.intermediate:
        raise StructureError(
            f"{method} cannot remove {sparsity:.0%} of the prunable weights: it would remove all "
            f"{dense.intermediate} MLP channels of the {shape.layers} layer(s) it keeps (at least one layer, one KV "
            "group and one channel stay); lower --sparsity"
        )
    return StructurePlan(method, sparsity, dense, replace(shape, intermediate=dense.intermediate - channels))


def apply_shape(config, shape: Shape) -> None:
    """Write `shape` into a transformers config in place (head_dim written out: it need not be hidden / heads)."""
    config.num_hidden_layers = shape.layers
    config.intermediate_size = shape.intermediate
    config.num_attention_heads = shape.heads
    config.num_key_value_heads = shape.kv_heads
    config.head_dim = shape.head_dim
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) > shape.layers:
        config.layer_types = layer_types[: shape.layers]  # only where the removed layers were not chosen yet

"""How many experts the method `experts` removes: the same number r from every mixture-of-experts layer (so the
config keeps one expert count), chosen so that r experts per layer are the fraction S of the prunable weights
(rac_bench.pruning.layout) within half a point. Top-k is unchanged, so at least top-k experts stay. The counts are
read off the model built from its config on the meta device (no weights), whatever the family's field names.
"""

from __future__ import annotations

from dataclasses import dataclass

from rac_bench.pruning.shape import EXPERT_FIELDS, StructureError

TOLERANCE = 0.005  # the label's half point (rac_bench.variants.LABEL_TOLERANCE)


@dataclass(frozen=True)
class ExpertShape:
    experts: int
    top_k: int
    moe_layers: int
    prunable: int

    def describe(self) -> str:
        experts = f"{self.moe_layers} MoE layers of {self.experts} experts (top-{self.top_k})"
        return f"{experts}, {self.prunable:,} prunable weights"


@dataclass(frozen=True)
class ExpertPlan:
    method: str
    sparsity: float
    dense: ExpertShape
    result: ExpertShape

    @property
    def removed_experts(self) -> int:
        return self.dense.experts - self.result.experts

    @property
    def removed_fraction(self) -> float:
        return 1 - self.result.prunable / self.dense.prunable

    def removal(self) -> str:
        """What is removed, in words (the `prune` command's pattern for a structured method)."""
        return f"removed {self.removed_experts} of {self.dense.experts} experts per MoE layer"

    def apply(self, config) -> None:
        """Write the new expert count into a transformers config, under whichever names the family uses."""
        text = getattr(config, "text_config", None) or config
        for field in EXPERT_FIELDS:
            if getattr(text, field, None) == self.dense.experts:
                setattr(text, field, self.result.experts)


def plan_experts(method: str, config, sparsity: float) -> ExpertPlan:
    """The expert count `experts` leaves at `sparsity`; StructureError when the model has no experts or no whole
    number of experts per layer meets the label."""
    import torch
    from transformers import AutoModelForCausalLM

    from rac_bench.pruning.layout import find_decoder_layers, model_layouts

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    layouts = model_layouts(model)
    layers = find_decoder_layers(model)
    weights = [(layer, weight) for layer, layout in zip(layers, layouts) for weight in layout.prunable]
    prunable = sum(layer.get_parameter(weight.name).numel() for layer, weight in weights)
    counts = {weight.experts for _, weight in weights if weight.experts}
    if not counts:
        raise StructureError(
            f"{type(model).__name__} has no experts to remove; `experts` prunes mixture-of-experts models"
        )
    if len(counts) > 1:
        raise StructureError(f"{type(model).__name__}'s layers hold different expert counts {sorted(counts)}")
    experts = counts.pop()
    per_expert = sum(layer.get_parameter(weight.name).numel() // experts for layer, weight in weights if weight.experts)
    moe_layers = sum(any(w.experts for w in layout.prunable) for layout in layouts)
    text = config.get_text_config()
    if (getattr(text, "n_group", None) or 1) > 1:
        raise StructureError(
            f"{type(model).__name__} routes within {text.n_group} expert groups (n_group): removing experts would "
            "leave unequal groups; expert pruning takes models with n_group 1"
        )
    top_k = int(getattr(text, "num_experts_per_tok", 1) or 1)
    removed = round(sparsity * prunable / per_expert)
    achieved = removed * per_expert / prunable
    if removed > experts - top_k or abs(achieved - sparsity) > TOLERANCE:
        steps = ", ".join(f"{r * per_expert / prunable:.3f}" for r in range(1, experts - top_k + 1))
        raise StructureError(
            f"experts removes whole experts, the same number from each of the {moe_layers} MoE layers (at least "
            f"top-{top_k} of {experts} stay), so it cannot remove {sparsity:g} of the prunable weights; accepted "
            f"--sparsity on this model: {steps}"
        )
    dense = ExpertShape(experts, top_k, moe_layers, prunable)
    result = ExpertShape(experts - removed, top_k, moe_layers, prunable - removed * per_expert)
    return ExpertPlan(method, sparsity, dense, result)

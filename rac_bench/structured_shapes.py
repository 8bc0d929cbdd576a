"""The shapes a run's structured variants leave (rac_bench.pruning.shape), from the model's config alone: checked
before anything is loaded or written, so a budget that cannot be met fails with one line, and printed by
`--dry-run` with each variant's parameter count (the model built on the meta device, which holds no weights)."""

from __future__ import annotations

import copy

from rac_bench.config import RunConfig
from rac_bench.errors import ConfigError


def structured_plans(config: RunConfig, model: str | None, model_config) -> list:
    """(label, StructurePlan) of every structured variant of the run on one model; ConfigError naming the variant
    and the model when one cannot be met."""
    from rac_bench.methods.spec import parse_method_spec
    from rac_bench.models import EMBEDDED_MODEL_NAME
    from rac_bench.plan import variant_targets

    plans = []
    for spec in map(parse_method_spec, config.methods):
        if not getattr(spec.method, "structured", False):
            continue
        for target in variant_targets(spec, config):
            try:
                plans.append((f"{spec.label} {target.label}", spec.method.plan(model_config, target.sparsity)))
            except ConfigError as error:
                raise type(error)(f"{spec.label} on {model or EMBEDDED_MODEL_NAME}: {error}") from None
    return plans


def shape_lines(config: RunConfig, model: str | None) -> list[str]:
    """One line per structured variant: the shape it leaves and its parameters against dense."""
    from rac_bench.models import model_config as read_config

    if not any(_is_structured(spec) for spec in config.methods):
        return []
    model_config = read_config(model)
    plans = structured_plans(config, model, model_config)
    dense_parameters = _parameters(model_config)
    lines = [f"structured variants (dense: {plans[0][1].dense.describe()}, {dense_parameters:,} parameters):"]
    for label, plan in plans:
        shaped = copy.deepcopy(model_config)
        plan.apply(shaped)
        lines.append(f"  {label}: {plan.result.describe()}, {_parameters(shaped):,} parameters")
    return lines + [""]


def _is_structured(text: str) -> bool:
    from rac_bench.methods.spec import parse_method_spec

    return getattr(parse_method_spec(text).method, "structured", False)


def _parameters(model_config) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in AutoModelForCausalLM.from_config(model_config).parameters())

"""`rac-bench run --dry-run`: the plan of a run and what it will cost, before any work starts.

Costs are estimates from the model's shape and stated assumptions, not measurements: generated tokens from
the problems, samples and an assumed mean response length per task; GPU hours from those tokens at an
assumed decode throughput (a fraction of the GPU's peak FLOP/s over 2 FLOPs per parameter per token) plus
the FLOPs of pruning; disk from checkpoint, trace and store sizes. Every assumption is printed and can be
overridden in the config under `estimate:`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from tabulate import tabulate

from rac_bench.errors import ConfigError, ModelLoadError, first_line
from rac_bench.plan import Plan, Variant
from rac_bench.pruning.sparsegpt import sparsegpt_prune
from rac_bench.tasks import get_task


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool

    @property
    def layer_parameters(self) -> int:
        attention = (
            self.hidden * (self.heads + 2 * self.kv_heads) * self.head_dim + self.heads * self.head_dim * self.hidden
        )
        return attention + 3 * self.hidden * self.intermediate

    @property
    def parameters(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        return self.layers * self.layer_parameters + embeddings

    def prune_flops(self, tokens: int, solve: bool) -> float:
        """Two forward passes through the decoder layers (statistics, then propagation), the Hessians of the
        four input groups per layer (q/k/v and gate/up share theirs), and, for SparseGPT, the OBS solves."""
        forward = 2 * 2 * self.layers * self.layer_parameters * tokens
        inputs = [self.hidden, self.heads * self.head_dim, self.hidden, self.intermediate]
        hessians = self.layers * sum(2 * tokens * n * n for n in inputs)
        if not solve:
            return forward + hessians
        outputs = [(self.heads + 2 * self.kv_heads) * self.head_dim, self.hidden, 2 * self.intermediate, self.hidden]
        solves = self.layers * sum(2 * rows * n * n + n**3 for rows, n in zip(outputs, inputs))
        return forward + hessians + solves


# The three recipe models, from their public config.json, so a plan needs no hub access. Any other model is
# read from its local directory or, when the hub is reachable, from its config.json there.
KNOWN_SHAPES = {
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": ModelShape(1536, 8960, 28, 12, 2, 128, 151936, False),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": ModelShape(3584, 18944, 28, 28, 4, 128, 152064, False),
    "Qwen/Qwen3-8B": ModelShape(4096, 12288, 36, 32, 8, 128, 151936, False),
}


@dataclass(frozen=True)
class Assumptions:
    gpu: str = "A100-80GB"
    peak_tflops: float = 312.0  # dense bf16 tensor-core peak of that GPU
    decode_utilization: float = 0.2  # share of the peak that batched vLLM decoding reaches
    prune_utilization: float = 0.3
    bytes_per_parameter: int = 2  # bf16 checkpoints
    # mean generated tokens per response, typical of R1-distilled models; capped by the token budget
    response_tokens: tuple = (
        ("math500", 4000),
        ("aime24", 12000),
        ("aime25", 12000),
        ("amc23", 7000),
        ("gpqa_diamond", 7000),
        ("rac_arith", 44),  # the embedded model's dense mean: 41.2 thinking + 2.8 answer tokens
    )


def assumptions(overrides: dict) -> Assumptions:
    accepted = {f.name for f in fields(Assumptions)}
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ConfigError(f"unknown estimate option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}")
    values = dict(overrides)
    for name, value in values.items():
        if name == "gpu":
            values[name] = str(value)
        elif name == "response_tokens":
            if not isinstance(value, dict) or not all(_positive(v) for v in value.values()):
                raise ConfigError("estimate.response_tokens must map task names to positive numbers of tokens")
            values[name] = tuple({**dict(Assumptions.response_tokens), **value}.items())
        elif not _positive(value):
            raise ConfigError(f"estimate.{name} must be a positive number, got {value!r}")
    return Assumptions(**values)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def model_shape(reference: str | None) -> tuple[ModelShape, str]:
    """(shape, where it came from) of the model under test."""
    from rac_bench.models import EMBEDDED_MODEL_DIR, check_hub_reachable

    path = Path(reference).expanduser() if reference else EMBEDDED_MODEL_DIR
    if (path / "config.json").is_file():
        return _shape_from_config(json.loads((path / "config.json").read_text())), f"{path}/config.json"
    if reference in KNOWN_SHAPES:
        return KNOWN_SHAPES[reference], "rac-bench's table of recipe models"
    try:
        check_hub_reachable()
        from huggingface_hub import hf_hub_download

        config_file = hf_hub_download(reference, "config.json")
    except Exception as error:  # offline, unknown repository, gated: one line either way
        reason = first_line(error)
        raise ModelLoadError(
            f"unknown model {reference!r}: not a local model directory, not a recipe model "
            f"({', '.join(KNOWN_SHAPES)}), and its config.json could not be read from the hub ({reason})"
        ) from None
    return _shape_from_config(json.loads(Path(config_file).read_text())), f"the hub's {reference}/config.json"


def _shape_from_config(config: dict) -> ModelShape:
    config = config.get("text_config", config)
    heads = config["num_attention_heads"]
    return ModelShape(
        hidden=config["hidden_size"],
        intermediate=config["intermediate_size"],
        layers=config["num_hidden_layers"],
        heads=heads,
        kv_heads=config.get("num_key_value_heads", heads),
        head_dim=config.get("head_dim") or config["hidden_size"] // heads,
        vocab=config["vocab_size"],
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
    )


def calibration_tokens(plan: Plan, variant: Variant) -> int:
    """Tokens a variant's calibration source feeds the pruner: its budget (a trace file's at most)."""
    source = variant.spec.source
    return source.estimate_tokens(plan.config.calibration) if source is not None else 0


def _count(number: float) -> str:
    return f"{number / 1e9:.2f}B" if number >= 1e8 else f"{number / 1e6:.2f}M"


@dataclass
class ModelPlan:
    lines: list[str]
    eval_tokens: int
    trace_tokens: int
    gpu_hours: float
    disk_bytes: float


def _eval_tokens(plan: Plan, mean_response: dict) -> int:
    """Generated tokens of one variant's evaluation on every task."""
    config, tokens = plan.config, 0
    for task_plan in plan.tasks:
        task = get_task(task_plan.name)
        budget = config.evaluation.max_new_tokens or task.generation.max_new_tokens
        responses = min(config.evaluation.limit or task.size, task.size) * (config.evaluation.samples or task.samples)
        tokens += responses * min(mean_response.get(task.name, budget), budget)
    return tokens


def _model_plan(plan: Plan, model: str | None, costs: Assumptions) -> ModelPlan:
    """One model's variants with their calibration, pruning and evaluation costs."""
    shape, shape_source = model_shape(model)
    decode_tokens_per_second = costs.decode_utilization * costs.peak_tflops * 1e12 / (2 * shape.parameters)
    prune_flops_per_second = costs.prune_utilization * costs.peak_tflops * 1e12
    eval_tokens = _eval_tokens(plan, dict(costs.response_tokens))
    eval_hours = eval_tokens / decode_tokens_per_second / 3600
    rows, hours, trace_tokens = [], 0.0, 0
    for variant in plan.variants:
        source = variant.spec.source
        tokens = calibration_tokens(plan, variant)
        if source is not None and source.name == "traces":  # on-policy: generated once, shared by every method
            trace_tokens = max(trace_tokens, tokens)
        solve = getattr(variant.spec.method, "algorithm", None) is sparsegpt_prune
        prune_hours = shape.prune_flops(tokens, solve) / prune_flops_per_second / 3600 if source else 0.0
        hours += prune_hours + eval_hours
        target = "-" if variant.is_dense else variant.target.label
        row = [variant.method, target, source.name if source else "-", f"{tokens:,}", f"{prune_hours:.2f}"]
        rows.append([*row, f"{eval_tokens:,}", f"{eval_hours:.1f}"])
    hours += trace_tokens / decode_tokens_per_second / 3600
    pruned = sum(1 for v in plan.variants if not v.is_dense)
    checkpoint = shape.parameters * costs.bytes_per_parameter
    lines = [
        f"model {model or 'rac-bench/tiny-reasoner'}: {_count(shape.parameters)} parameters "
        f"({shape.layers} layers, hidden {shape.hidden}; shape from {shape_source}); decode at "
        f"{decode_tokens_per_second:,.0f} tokens/s per GPU; {pruned} checkpoints of {checkpoint / 1e9:.2f} GB",
        tabulate(
            rows,
            headers=["method", "sparsity", "calibration", "cal. tokens", "prune GPU h", "eval tokens", "eval GPU h"],
            disable_numparse=True,
        ),
        "",
    ]
    eval_total = eval_tokens * len(plan.variants)
    disk = pruned * checkpoint + trace_tokens * 6 + eval_total * 10  # JSON traces; responses in two tables
    return ModelPlan(lines, eval_total, trace_tokens, hours, disk)


def plan_report(plan: Plan, available_gpus: float) -> str:
    """The plan as text; raises ConfigError when the cluster cannot hold one variant job."""
    config = plan.config
    costs = assumptions(config.estimate)
    gpus = config.execution.gpus_per_variant()
    if gpus > available_gpus:
        raise ConfigError(
            f"each model variant needs {gpus:g} GPU(s) (execution.gpus_per_cell, or vLLM tensor x data parallel "
            f"size) but the cluster has {available_gpus:g}; lower them, or give --gpus N to plan for a larger cluster"
        )
    plans = [_model_plan(plan, model, costs) for model in plan.models]
    mean_response = dict(costs.response_tokens)
    cells = len(plan.models) * len(plan.variants) * len(plan.tasks)
    lines = [
        f"plan: {len(plan.models)} model(s) x {len(plan.variants)} variants x {len(plan.tasks)} task(s) "
        f"= {cells} cells; executor {config.execution.executor}, backend {config.execution.backend}",
        "",
        *[line for model_plan in plans for line in model_plan.lines],
        f"generated tokens: {sum(p.eval_tokens for p in plans):,} for evaluation + "
        f"{sum(p.trace_tokens for p in plans):,} for RAC traces",
        f"GPU hours: {sum(p.gpu_hours for p in plans):.1f} on {costs.gpu}",
        f"disk: {sum(p.disk_bytes for p in plans) / 1e9:.1f} GB (checkpoints, traces, results store)",
        f"GPUs: {gpus:g} per variant job; {available_gpus:g} available",
        "",
        f"assumptions (override under `estimate:` in the config): {costs.peak_tflops:g} TFLOP/s peak, decode at "
        f"{costs.decode_utilization:.0%} of it, pruning at {costs.prune_utilization:.0%}; mean response tokens "
        + ", ".join(f"{task.name} {mean_response.get(task.name, '?')}" for task in plan.tasks),
        "dry run: nothing was pruned, generated or written",
    ]
    return "\n".join(lines)

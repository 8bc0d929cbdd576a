"""`rac-bench run --dry-run`: the plan of a run and what it will cost, before any work starts.

Costs are estimates from the model's shape and stated assumptions, not measurements: generated tokens from
the problems, samples and an assumed mean response length per task; GPU hours from those tokens at an
assumed decode throughput (a fraction of the GPU's peak FLOP/s over 2 FLOPs per parameter per token) plus
the FLOPs of pruning; disk from checkpoint, trace and store sizes. Every assumption is printed and can be
overridden in the config under `estimate:`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from tabulate import tabulate

from rac_bench.errors import ConfigError, ModelLoadError, first_line
from rac_bench.plan import Plan, Variant
from rac_bench.structured_shapes import shape_lines
from rac_bench.tasks import get_task


@dataclass(frozen=True)
class Matrix:
    """A prunable matrix of one decoder layer as the estimate sees it: one, or a stack of expert matrices."""

    rows: int
    columns: int
    experts: int = 0  # 0: one matrix; E: E expert matrices, each reached by top_k / E of the tokens


@dataclass(frozen=True)
class ModelShape:
    parameters: int  # every parameter (tied embeddings once)
    active_parameters: int  # what one token's forward multiplies: routed experts at top_k of them
    layers: int
    hidden: int
    matrices: tuple[Matrix, ...]  # every decoder layer's prunable matrices
    experts: int = 0
    top_k: int = 0
    decoder_active: int = 0  # active parameters inside the decoder layers

    def prune_flops(self, tokens: int, solve: bool) -> float:
        """Two forward passes through the decoder layers (statistics, then propagation), a Hessian per prunable
        matrix (an upper bound: q/k/v and gate/up share theirs), an expert's on the tokens routed to it, and, for
        SparseGPT, the OBS solves."""
        forward = 2 * 2 * self.decoder_active * tokens
        hessians = solves = 0.0
        for matrix in self.matrices:
            reached = tokens * self.top_k / matrix.experts if matrix.experts else tokens
            copies = max(1, matrix.experts)
            hessians += copies * 2 * reached * matrix.columns**2
            solves += copies * (2 * matrix.rows * matrix.columns**2 + matrix.columns**3)
        return forward + hessians + (solves if solve else 0.0)


# The three recipe models' public config.json values, so a plan needs no hub access. Any other model is read from
# its local directory or GGUF file or, when the hub is reachable, from its config.json there.
KNOWN_CONFIGS = {
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": dict(
        model_type="qwen2",
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=False,
    ),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": dict(
        model_type="qwen2",
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        tie_word_embeddings=False,
    ),
    "Qwen/Qwen3-8B": dict(
        model_type="qwen3",
        hidden_size=4096,
        intermediate_size=12288,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
        tie_word_embeddings=False,
    ),
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
    from transformers import AutoConfig

    from rac_bench.gguf import gguf_config, gguf_file
    from rac_bench.models import EMBEDDED_MODEL_DIR, check_hub_reachable
    from rac_bench.zoo.smollm2 import is_reasoner, smollm2_gguf

    gguf = smollm2_gguf() if is_reasoner(reference) else gguf_file(reference)
    if gguf is not None:
        return shape_of(gguf_config(gguf)), f"the metadata of {gguf}"
    path = Path(reference).expanduser() if reference else EMBEDDED_MODEL_DIR
    if (path / "config.json").is_file():
        return shape_of(AutoConfig.from_pretrained(path)), f"{path}/config.json"
    if reference in KNOWN_CONFIGS:
        return shape_of(AutoConfig.for_model(**KNOWN_CONFIGS[reference])), "rac-bench's table of recipe models"
    try:
        check_hub_reachable()
        from huggingface_hub import hf_hub_download

        config_file = hf_hub_download(reference, "config.json")
    except Exception as error:  # offline, unknown repository, gated: one line either way
        reason = first_line(error)
        raise ModelLoadError(
            f"unknown model {reference!r}: not a local model directory, not a recipe model "
            f"({', '.join(KNOWN_CONFIGS)}), and its config.json could not be read from the hub ({reason})"
        ) from None
    return shape_of(AutoConfig.from_pretrained(Path(config_file).parent)), f"the hub's {reference}/config.json"


def shape_of(config) -> ModelShape:
    """The model's shape from its config, read off the model built on the meta device (no weights): every
    parameter, the prunable matrices as rac_bench.pruning.layout finds them, and the experts' routing."""
    import torch
    from transformers import AutoModelForCausalLM

    from rac_bench.pruning.layout import find_decoder_layers, model_layouts

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    layers = find_decoder_layers(model)
    matrices, expert_weights, experts = [], 0, 0
    for layer, layout in zip(layers, model_layouts(model)):
        for weight in layout.prunable:
            parameter = layer.get_parameter(weight.name)
            columns = weight.in_features(parameter)
            matrices.append(Matrix(parameter.numel() // max(1, weight.experts) // columns, columns, weight.experts))
            if weight.experts:
                expert_weights += parameter.numel()
                experts = max(experts, weight.experts)
    text = config.get_text_config()
    top_k = int(getattr(text, "num_experts_per_tok", 0) or 0) if experts else 0
    idle = round(expert_weights * (1 - min(top_k, experts) / experts)) if experts else 0
    decoder = sum(p.numel() for p in layers.parameters())
    return ModelShape(
        parameters=sum(p.numel() for p in model.parameters()),
        active_parameters=sum(p.numel() for p in model.parameters()) - idle,
        layers=len(layers),
        hidden=text.hidden_size,
        matrices=tuple(matrices),
        experts=experts,
        top_k=top_k,
        decoder_active=decoder - idle,
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


def _model_plan(plan: Plan, model: str | None, costs: Assumptions, on_gpu: bool) -> ModelPlan:
    """One model's variants with their calibration, pruning and evaluation costs (GPU hours only `on_gpu`: the
    throughput assumptions are a GPU's, and a CPU run's time is not derived from them)."""
    shape, shape_source = model_shape(model)
    decode_tokens_per_second = costs.decode_utilization * costs.peak_tflops * 1e12 / (2 * shape.active_parameters)
    prune_flops_per_second = costs.prune_utilization * costs.peak_tflops * 1e12
    eval_tokens = _eval_tokens(plan, dict(costs.response_tokens))
    eval_hours = eval_tokens / decode_tokens_per_second / 3600
    rows, hours, trace_tokens = [], 0.0, 0
    for variant in plan.variants:
        source = variant.spec.source
        tokens = calibration_tokens(plan, variant)
        if source is not None and source.name == "traces":  # on-policy: generated once, shared by every method
            trace_tokens = max(trace_tokens, tokens)
        solve = getattr(variant.spec.method, "solves_obs", False)
        prune_hours = shape.prune_flops(tokens, solve) / prune_flops_per_second / 3600 if source else 0.0
        hours += prune_hours + eval_hours
        target = "-" if variant.is_dense or variant.is_outside else variant.target.label
        row = [variant.method, target, source.name if source else "-", f"{tokens:,}"]
        row += [f"{prune_hours:.2f}", f"{eval_tokens:,}", f"{eval_hours:.1f}"] if on_gpu else [f"{eval_tokens:,}"]
        rows.append(row)
    hours += trace_tokens / decode_tokens_per_second / 3600
    pruned = sum(1 for v in plan.variants if not (v.is_dense or v.is_outside))
    checkpoint = shape.parameters * costs.bytes_per_parameter
    experts = (
        f", {_count(shape.active_parameters)} active per token ({shape.experts} experts, top-{shape.top_k})"
        if shape.experts
        else ""
    )
    lines = [
        f"model {model or 'rac-bench/tiny-reasoner'}: {_count(shape.parameters)} parameters{experts} "
        f"({shape.layers} layers, hidden {shape.hidden}; shape from {shape_source}); "
        + (f"decode at {decode_tokens_per_second:,.0f} tokens/s per GPU (assumed); " if on_gpu else "")
        + f"{pruned} checkpoints of {checkpoint / 1e9:.2f} GB, the memory each cell's weights take",
        tabulate(
            rows,
            headers=["method", "sparsity", "calibration", "cal. tokens"]
            + (["prune GPU h", "eval tokens", "eval GPU h"] if on_gpu else ["eval tokens"]),
            disable_numparse=True,
        ),
        "",
        *shape_lines(plan.config, model),
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
    on_gpu = gpus > 0
    plans = [_model_plan(plan, model, costs, on_gpu) for model in plan.models]
    mean_response = dict(costs.response_tokens)
    cells = len(plan.models) * len(plan.variants) * len(plan.tasks)
    lines = [
        f"plan: {len(plan.models)} model(s) x {len(plan.variants)} variants x {len(plan.tasks)} task(s) "
        f"= {cells} cells; executor {config.execution.executor}, backend {config.execution.backend}",
        f"tasks: {', '.join(config.tasks)}; calibration prompts: {config.calibration.prompts}",
        "",
        *[line for model_plan in plans for line in model_plan.lines],
        f"generated tokens: {sum(p.eval_tokens for p in plans):,} for evaluation + "
        f"{sum(p.trace_tokens for p in plans):,} for RAC traces",
        f"GPU hours: {sum(p.gpu_hours for p in plans):.1f} on {costs.gpu}"
        if on_gpu
        else "time: not estimated (this plan runs on the CPU; the estimate's throughput assumptions are a GPU's)",
        f"disk: {sum(p.disk_bytes for p in plans) / 1e9:.1f} GB (checkpoints, traces, results store)",
        f"GPUs: {gpus:g} per variant job; {available_gpus:g} available",
        "",
        "assumptions (override under `estimate:` in the config): "
        + (
            f"{costs.peak_tflops:g} TFLOP/s peak, decode at {costs.decode_utilization:.0%} of it, pruning at "
            f"{costs.prune_utilization:.0%}; "
            if on_gpu
            else ""
        )
        + "mean response tokens "
        + ", ".join(f"{task.name} {mean_response.get(task.name, '?')}" for task in plan.tasks),
        "dry run: nothing was pruned, generated or written",
    ]
    return "\n".join(lines)

"""rac-bench's own columns and metrics, in table order. Each says what it is computed from, how it is aggregated
with which interval, which way is better, its digits, and where it appears (docs/usage.md#columns explains them).
Intervals: Clopper-Pearson over problems for shares, Newcombe's paired interval for a difference of shares, a
studentized bootstrap for ratios of sums, a percentile bootstrap over problems otherwise (rac_bench.metrics)."""

from __future__ import annotations

from collections.abc import Callable

from rac_bench.catalogue import Metric, register

PER_PROBLEM = "mean over problems of each problem's mean over its samples"
SHARE = "Clopper-Pearson 95% over problems"
BOOTSTRAP = "bootstrap 95% over problems"
RATIO = "a ratio of sums over tokens, studentized bootstrap 95% over problems"
PAIRED_SHARE = "paired with dense per problem, Newcombe's 95% (method 11) over the problems both measured"
PAIRED_RATIO = "paired with dense per problem, studentized bootstrap 95% over the problems both measured"


def _with_samples(read: Callable) -> Callable:
    """A metric that only says something with several samples per problem (greedy pass@1 is the accuracy)."""
    return lambda cell: read(cell) if cell.results.samples_per_problem > 1 else None


def _at_n(table: str) -> Callable:
    """pass@n or maj@n at n = the samples per problem."""
    return lambda cell: cell.results[table].get(str(cell.results.samples_per_problem))


def _family(table: str, name: str) -> Callable:
    return lambda cell: {f"{name}@{k}": value for k, value in cell.results[table].items()}


def quantization(cell) -> dict | None:
    return cell.settings.get("quantization")


def quantization_bits(cell) -> int | None:
    return (quantization(cell) or {}).get("bits")


DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "float64": 64}


def weight_bits(cell) -> int | None:
    """Bits per weight value: the quantizer's, else the dtype's the model was evaluated in (dense: 32 in float32)."""
    return quantization_bits(cell) or DTYPE_BITS.get(str(cell.settings.get("dtype")))


def _sparsity(cell) -> str | None:
    """The target sparsity or pattern as written; dense is 0, a variant that prunes nothing has none."""
    if cell.identity.is_dense:
        return "0"
    return None if cell.identity.target_label == "-" else cell.identity.target_label


def _group(cell) -> str | None:
    """The inputs that share one scale: a group size, or `row` (one per output row)."""
    settings = quantization(cell)
    if not settings:
        return None
    return str(settings["group_size"]) if settings["group_size"] else "row"


def _calibration(part: str) -> Callable:
    """Tokens of the variant's calibration set: its task prompts or the generated chain of thought."""
    return lambda cell: ((cell.pruning or {}).get("calibration") or {}).get(part)


def _tied(cell) -> str | None:
    return {True: "yes", False: "no"}.get(cell.results.get("tied_with_best"))


def _drift(part: str) -> Callable:
    return lambda cell: getattr(cell.drift, part) if cell.drift else None


def _cost(key: str) -> Callable:
    """A cost column measured in the cell (rac_bench.cost); None in cells stored before it was."""
    return lambda cell: (getattr(cell, "cost", None) or {}).get(key)


def _execution(cell) -> str | None:
    """`packed (KERNEL)`, `simulated`, `smaller` or `dense`; None in cells stored before it was recorded."""
    execution = getattr(cell, "execution", None)
    if not execution:
        return None
    return f"packed ({execution['kernel']})" if execution.get("kernel") else execution["mode"]


def _identity(key: str, shown: str = "always", read: Callable | None = None) -> Metric:
    return Metric(key, key, "text", read or (lambda c: getattr(c.identity, key)), shown=shown, headline=True)


def _number(key: str, header: str, read: Callable | None, digits: int, **declared) -> Metric:
    return Metric(key, header, "number", read, digits=digits, **declared)


BUILTIN = [
    _identity("model", "varies"),
    _identity("task"),
    _identity("method"),
    _identity("sparsity", read=_sparsity),
    _number(
        "achieved", "zeros", lambda c: (c.achieved_sparsity or {}).get("prunable"), 3, shown="measured",
        headline=True, source="share of the prunable weights that are zero, counted in the weights evaluated (pruned, "
        "or rounded to zero by a quantizer)",
    ),
    _number(
        "bits", "bits", weight_bits, 0, shown="measured", headline=True,
        source="bits per weight value: the quantizer's, else the evaluated dtype's (scales not counted)",
    ),
    Metric("group", "group", "text", _group, shown="measured", headline=True, source="inputs sharing one scale"),
    _number("problems", "problems", lambda c: c.results.problems, 0, headline=True),
    Metric(
        "accuracy", "accuracy [95% CI]", source="correct (samples)", interval=f"avg@n, {PER_PROBLEM}; {SHARE}",
        direction="higher", headline=True, gate=1, compared_over="correct", index_mean=True, lm_eval="accuracy",
        stored="estimate",
    ),
    Metric(
        "delta_vs_dense", "Δ vs dense [95% CI]", source="correct (samples), against dense's", interval=PAIRED_SHARE,
        direction="higher", signed=True, headline=True, versus_dense=True, index_mean=True, stored="estimate",
    ),
    # rac_bench/ranks.py: ranked within the budget group (model, task, problems, pattern, sparsity, bits)
    _number(
        "rank", "rank", None, 0, direction="lower", ranked=False, shown="measured", headline=True,
        source="accuracy's order within the budget group (1 the best; equal accuracies share a rank)",
    ),
    Metric(
        "tied_with_best", "tied with best", "text", _tied, shown="measured", headline=True,
        source="not behind any variant of its budget group: Newcombe's paired interval, Bonferroni over the pairs",
    ),
    _number("n", "n", _with_samples(lambda c: c.results.samples_per_problem), 0, shown="measured"),
    Metric(
        "pass@1", "pass@1 [95% CI]", read=_with_samples(lambda c: c.results.pass_at_k.get("1")), direction="higher",
        shown="measured", source="correct (samples)", interval=f"unbiased pass@k (Chen et al. 2021); {SHARE}",
    ),
    Metric(
        "pass@n", "pass@n [95% CI]", read=_with_samples(_at_n("pass_at_k")), direction="higher", shown="measured",
        headline=True, source="correct (samples)", interval=f"unbiased pass@k at k = samples per problem; {SHARE}",
    ),
    Metric(
        "maj@n", "maj@n [95% CI]", read=_with_samples(_at_n("maj_at_k")), direction="higher", shown="measured",
        headline=True, source="extracted answers (samples)", interval=f"majority vote by the scorer; {SHARE}",
    ),
    Metric(
        "pass@k", "pass@k", direction="higher", shown="never", gate=8, family=_family("pass_at_k", "pass"),
        stored="estimates", results_key="pass_at_k", source="correct (samples)", interval=SHARE,
    ),
    Metric(
        "maj@k", "maj@k", direction="higher", shown="never", gate=9, family=_family("maj_at_k", "maj"),
        stored="estimates", results_key="maj_at_k", source="extracted answers (samples)", interval=SHARE,
    ),
    # neither more nor fewer thinking tokens is better in itself
    Metric(
        "thinking_tokens", "think tok [95% CI]", digits=1, headline=True, compared_over="thinking_tokens",
        stored="estimate", source="tokens through the last </think> (samples)", interval=BOOTSTRAP,
    ),
    # lower is better for the gate (a pruned model that rambles fails it); tables do not rank it
    Metric(
        "thinking_ratio", "think × dense [95% CI]", digits=2, direction="lower", ranked=False, headline=True,
        gate=5, versus_dense=True, index_mean=True, stored="estimate",
        source="thinking tokens over dense's, a ratio of sums over shared problems", interval=PAIRED_RATIO,
    ),
    _number("answer_tokens", "answer tok", None, 1, source="tokens after </think> (samples), mean per response"),
    Metric(
        "truncation", "truncated [95% CI]", direction="lower", headline=True, gate=3, compared_over="truncated",
        lm_eval="truncated", stored="estimate", source="responses that never closed </think>", interval=SHARE,
    ),
    # closed the thinking, then hit the token limit: graded on the answer, counted apart
    Metric(
        "limit_after_answer", "limit after answer [95% CI]", shown="measured", stored="estimate", interval=SHARE,
        source="responses that closed </think>, then hit the token limit",
    ),
    Metric(
        "accuracy_completed", "acc. completed [95% CI]", direction="higher", gate=2, stored="estimate",
        source="correct, over the responses that closed </think>", interval=SHARE,
    ),
    Metric(
        "accuracy_truncated", "acc. truncated [95% CI]", shown="measured", stored="estimate", interval=SHARE,
        source="a truncated response's tail read as an answer (never in accuracy)",
    ),
    Metric(
        "self_corrections", "self-corrections [95% CI]", digits=2, direction="lower", ranked=False, gate=4,
        stored="estimate", source="the task's retries per response or hesitations per 1k thinking tokens",
        interval=BOOTSTRAP,
    ),
    Metric(
        "kl", "KL from dense [95% CI]", read=_drift("kl"), digits=4, direction="lower", headline=True, gate=6,
        versus_dense=True, source="KL(dense || compressed) per token, teacher-forced on dense's responses",
        interval=RATIO,
    ),
    _number("kl_p95", "KL p95", _drift("kl_p95"), 3, direction="lower", source="95th percentile over tokens"),
    Metric(
        "top1_agreement", "top-1 agree [95% CI]", read=_drift("top1_agreement"), direction="higher", gate=7,
        versus_dense=True, source="tokens where both models' likeliest next token agrees", interval=RATIO,
    ),
    _number(
        "latency_seconds", "latency s", None, 3, direction="lower", headline=True,
        source="wall time of the engine call that produced a response, mean",
    ),
    _number("first_token_seconds", "TTFT s", None, 3, direction="lower", shown="measured"),
    _number("seconds_per_output_token", "s per token", None, 4, direction="lower", shown="measured"),
    Metric(
        "execution", "execution", "text", _execution, shown="measured", headline=True,
        source="how the weights ran: dense, simulated (compression stored in dense weights), smaller (structured: "
        "weights removed) or packed (vLLM's kernel)",
    ),
    _number(
        "decode_speedup", "decode × dense", _cost("decode_speedup"), 2, direction="higher", shown="measured",
        headline=True, source="dense's time per generated token over the variant's, same backend and batch, one run",
    ),
    _number(
        "seconds_per_problem", "s per problem", _cost("seconds_per_problem"), 3, direction="lower",
        shown="measured", headline=True, source="the evaluation's wall time over its problems, at the run's batch",
    ),
    _number(
        "seconds_per_correct", "s per correct", _cost("seconds_per_correct"), 3, direction="lower",
        shown="measured", source="seconds per problem over accuracy",
    ),
    _number(
        "weight_bytes", "weight bytes", _cost("weight_bytes"), 0, direction="lower", shown="measured",
        headline=True, source="bytes of the weights as served (a packed checkpoint's codes and scales)",
    ),
    _number("eval_seconds", "eval s", None, 1, source="wall time of the lm-eval evaluation"),
    _number("prune_seconds", "prune s", lambda c: c.prune_seconds, 1, direction="lower"),
    _number("calibration_prompt_tokens", "calib. prompt tok", _calibration("prompt_tokens"), 0, shown="measured"),
    _number("calibration_cot_tokens", "calib. CoT tok", _calibration("generated_tokens"), 0, shown="measured"),
]  # fmt: skip

for _metric in BUILTIN:
    register(_metric)

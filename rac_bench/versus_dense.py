"""What a pruned cell is measured against: the dense model's cell of the same task, problem by problem. The accuracy
difference (Newcombe's paired interval) and the thinking-token ratio (BCa bootstrap over problems) are paired per
problem; drift compares the two
models' next-token distributions teacher-forced on dense's own responses (rac_bench.drift)."""

from __future__ import annotations

from rac_bench import metrics
from rac_bench.drift import Drift, across_problems, teacher_forced_drift


def per_problem(samples: list[dict], name: str) -> dict:
    """Each problem's mean of the samples' `name` (e.g. correct, thinking_tokens)."""
    return metrics.per_problem_scores([s["doc_id"] for s in samples], [float(s[name]) for s in samples])


def versus_dense(dense_samples: list[dict], samples: list[dict]) -> dict:
    """delta_vs_dense (accuracy minus dense's) and thinking_ratio (thinking tokens over dense's)."""
    return {
        "delta_vs_dense": metrics.paired_share_difference(
            per_problem(dense_samples, "correct"), per_problem(samples, "correct")
        ),
        "thinking_ratio": metrics.paired_ratio(
            per_problem(dense_samples, "thinking_tokens"), per_problem(samples, "thinking_tokens")
        ),
    }


def drift_from_dense(
    dense_model, model, tokenizer, dense_samples: list[dict], responses: int, device: str
) -> Drift | None:
    """Drift over `responses` of dense's responses chosen across problems (rac_bench.drift); None with 0."""
    if not responses:
        return None
    return teacher_forced_drift(dense_model, model, tokenizer, across_problems(dense_samples, responses), device)

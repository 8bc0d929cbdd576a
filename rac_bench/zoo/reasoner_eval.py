"""A quick greedy check of a trained reasoner on the first evaluation problems, graded as `rac_arith` grades them
(the last integer after the last `</think>`), with the chain of thought's length in the model's tokens (through
`</think>`) and its failed checks. For training logs and tests; benchmark numbers come from `rac-bench run`."""

from __future__ import annotations

import torch

from rac_bench.scoring.integer import extract_integer, integers_equal
from rac_bench.scoring.thinking import split_thinking
from rac_bench.zoo.arithmetic import count_retries, evaluation_problems

MAX_NEW_TOKENS = 256  # rac_arith's limit


@torch.no_grad()
def greedy_responses(
    model, tokenizer, questions: list[str], device: str = "cpu", batch_size: int = 64, max_new_tokens: int = MAX_NEW_TOKENS
) -> list[str]:
    """Greedy responses to `questions` in the model's chat template, left-padded in batches."""
    tokenizer.padding_side = "left"
    responses = []
    for start in range(0, len(questions), batch_size):
        prompts = [
            tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
            for q in questions[start : start + batch_size]
        ]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        output = model.generate(
            **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        responses += tokenizer.batch_decode(output[:, batch.input_ids.shape[1] :], skip_special_tokens=True)
    return responses


def greedy_report(model, tokenizer, count: int, device: str = "cpu") -> dict:
    """Accuracy, mean thinking tokens, mean failed checks and the share never closing `</think>` on the first
    `count` evaluation problems (levels 1..6 in turn)."""
    problems = evaluation_problems()[:count]
    responses = greedy_responses(model, tokenizer, [p.question for p in problems], device)
    split = [split_thinking(r) for r in responses]
    correct = [integers_equal(extract_integer(s.answer), str(p.answer)) for s, p in zip(split, problems)]
    thinking = [len(tokenizer(s.thinking, add_special_tokens=False).input_ids) for s in split]
    return {
        "problems": count,
        "accuracy": round(sum(correct) / count, 4),
        "thinking_tokens": round(sum(thinking) / count, 2),
        "retries": round(sum(count_retries(r) for r in responses) / count, 3),
        "unclosed": round(sum(not s.closed for s in split) / count, 4),
    }

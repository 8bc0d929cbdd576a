"""Evaluate one model on one task through lm-evaluation-harness, and score every sample with rac_bench.scoring."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from functools import lru_cache

import lm_eval.evaluator
import numpy
import torch
from lm_eval.tasks import TaskManager

from rac_bench import metrics
from rac_bench.backends.lm_adapter import GenerationLog, RacBenchLM
from rac_bench.export import LM_EVAL_SECTIONS
from rac_bench.scoring import score_response
from rac_bench.tasks import TASKS_DIR, TaskInfo

log = logging.getLogger(__name__)


@dataclass
class TaskEvaluation:
    samples: list[dict]
    summary: dict


@lru_cache(maxsize=1)
def task_manager() -> TaskManager:
    """Index only the project's task YAMLs: lm-eval's own thousands of tasks take seconds to scan."""
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def generation_kwargs(task: TaskInfo, samples: int) -> dict:
    settings = task.generation
    if settings.greedy and samples == 1:
        return {"do_sample": False, "temperature": 0.0}
    return {"do_sample": True, "temperature": settings.temperature or 0.6, "top_p": settings.top_p}


def evaluate_task(
    backend,
    tokenizer,
    task: TaskInfo,
    limit: int | None,
    samples: int | None,
    max_new_tokens: int | None,
    seed: int,
    pass_at_k: list[int] | None = None,
    generation_log: GenerationLog | None = None,
) -> TaskEvaluation:
    samples = samples or task.samples
    lm = RacBenchLM(backend, tokenizer, seed=seed, max_new_tokens=max_new_tokens, generation_log=generation_log)
    loaded = task_manager().load([task.name])
    task_object = loaded["tasks"][task.name]
    # What simple_evaluate would set up, without its environment report (seconds of subprocesses per call).
    task_object.set_config(key="repeats", value=samples)
    task_object.set_config(key="generation_kwargs", value=generation_kwargs(task, samples), update=True)
    if task_object.get_config("num_fewshot") is None:
        task_object.set_config(key="num_fewshot", value=0)
    task_object.set_fewshot_seed(seed=seed)
    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)
    started = time.perf_counter()
    results = lm_eval.evaluator.evaluate(
        lm=lm,
        task_dict=loaded,
        limit=limit,
        log_samples=True,
        apply_chat_template=True,
        bootstrap_iters=0,
    )
    wall_seconds = time.perf_counter() - started
    references = {s["doc_id"]: s for s in results["samples"][task.name]}
    records = []
    for record in sorted(lm.records, key=lambda r: (r.doc_id, r.sample_index)):
        logged = references[record.doc_id]
        generation = record.generation
        score = score_response(task.scorer, generation.text, logged["target"], generation.finish_reason == "length")
        records.append(
            {
                "task": task.name,
                "doc_id": record.doc_id,
                "problem_id": logged["doc"].get("id", record.doc_id),
                "sample_index": record.sample_index,
                "prompt": record.prompt,
                "response": generation.text,
                "reference": logged["target"],
                "extracted": score.extracted,
                "correct": score.correct,
                "truncated": score.truncated,
                "generated_tokens": generation.generated_tokens,
                "thinking_tokens": generation.thinking_tokens,
                "answer_tokens": generation.answer_tokens,
                "finish_reason": generation.finish_reason,
                "seconds": generation.seconds,
            }
        )
    summary = summarize(records, wall_seconds, lm.generate_seconds, results["results"][task.name], pass_at_k)
    summary["resumed_samples"] = lm.resumed_samples
    # throughput of this run's own generation: resumed chunks took no time here
    summary["tokens_per_second"] = lm.generated_tokens / lm.generate_seconds if lm.generate_seconds else float("nan")
    sections = {s: results[s][task.name] for s in LM_EVAL_SECTIONS if task.name in results.get(s, {})}
    summary["lm_eval_task"] = json.loads(json.dumps(sections, default=str))  # functions in configs become names
    return TaskEvaluation(records, summary)


def summarize(
    records: list[dict],
    wall_seconds: float,
    generate_seconds: float,
    lm_eval_metrics: dict,
    pass_at_k: list[int] | None = None,
) -> dict:
    problem_ids = [r["doc_id"] for r in records]
    correct = [r["correct"] for r in records]
    samples_per_problem = min(metrics.per_problem_counts(problem_ids)) if records else 0
    ks = pass_at_k or [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= samples_per_problem]
    generated = sum(r["generated_tokens"] for r in records)
    summary = {
        "problems": len(set(problem_ids)),
        "samples": len(records),
        "accuracy": metrics.accuracy(problem_ids, correct).to_dict(),
        "pass_at_k": {str(k): metrics.pass_at_k_estimate(problem_ids, correct, k).to_dict() for k in ks},
        "mean_thinking_tokens": metrics.mean([r["thinking_tokens"] for r in records]),
        "mean_answer_tokens": metrics.mean([r["answer_tokens"] for r in records]),
        "thinking_tokens": {
            group: metrics.distribution([r["thinking_tokens"] for r in records if keep(r)])
            for group, keep in (
                ("all", lambda r: True),
                ("correct", lambda r: r["correct"]),
                ("incorrect", lambda r: not r["correct"]),
            )
        },
        "truncation_rate": metrics.mean([float(r["truncated"]) for r in records]),
        # the same two means with 95% bootstrap intervals over problems, as the accuracy has
        "thinking_tokens_estimate": metrics.bootstrap_mean(
            metrics.per_problem_means(problem_ids, [r["thinking_tokens"] for r in records])
        ).to_dict(),
        "truncation_estimate": metrics.bootstrap_mean(
            metrics.per_problem_means(problem_ids, [float(r["truncated"]) for r in records])
        ).to_dict(),
        # what one request waits for its answer: the wall time of the engine call (batch) that produced it
        "mean_latency_seconds": metrics.mean([r["seconds"] for r in records]),
        "generated_tokens": generated,
        "eval_seconds": wall_seconds,
        "generate_seconds": generate_seconds,
        "tokens_per_second": generated / generate_seconds if generate_seconds else float("nan"),
        "lm_eval": {k: v for k, v in lm_eval_metrics.items() if k != "alias"},
    }
    if samples_per_problem > 1:
        answers = [r["extracted"] for r in records]
        summary["maj_at_k"] = {
            str(samples_per_problem): metrics.maj_at_k(problem_ids, answers, correct, samples_per_problem).to_dict()
        }
    return summary

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

from rac_bench import catalogue, metrics
from rac_bench.backends.lm_adapter import GenerationLog, RacBenchLM
from rac_bench.cells import CellResults
from rac_bench.export import LM_EVAL_SECTIONS
from rac_bench.metrics import Estimate
from rac_bench.scoring import correct_if_read_leniently, get_scorer, score_response
from rac_bench.scoring.thinking import opens_thinking_in_prompt
from rac_bench.tasks import TASKS_DIR, TaskInfo, generation_kwargs

log = logging.getLogger(__name__)


@dataclass
class TaskEvaluation:
    samples: list[dict]
    results: CellResults


@lru_cache(maxsize=1)
def task_manager() -> TaskManager:
    """Index only the project's task YAMLs: lm-eval's own thousands of tasks take seconds to scan."""
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def evaluate_task(
    backend,
    tokenizer,
    task: TaskInfo,
    settings,
    seed: int,
    generation_log: GenerationLog | None = None,
    progress: bool = True,
) -> TaskEvaluation:
    """One model on one task through lm-eval; `settings` is the run's EvaluationSettings (limit, samples,
    max_new_tokens, pass_at_k)."""
    samples = settings.samples or task.samples
    lm = RacBenchLM(
        backend,
        tokenizer,
        seed=seed,
        max_new_tokens=settings.max_new_tokens,
        generation_log=generation_log,
        progress=progress,
    )
    loaded = _configured_task(task, samples, seed)
    started = time.perf_counter()
    results = lm_eval.evaluator.evaluate(
        lm=lm,
        task_dict=loaded,
        limit=settings.limit,
        log_samples=True,
        apply_chat_template=True,
        bootstrap_iters=0,
    )
    wall_seconds = time.perf_counter() - started
    name = task.lm_eval_task
    references = {s["doc_id"]: s for s in results["samples"][name]}
    counter, markers = task.self_corrections, tuple(settings.hesitation_markers)
    opened = opens_thinking_in_prompt(tokenizer)  # how a response without </think> is read (scoring.thinking)
    records = [
        _scored(task, r, references[r.doc_id], counter, markers, opened) for r in sorted(lm.records, key=_order)
    ]
    sections = {s: results[s][name] for s in LM_EVAL_SECTIONS if name in results.get(s, {})}
    summary = summarize(
        records,
        Timing(wall_seconds, lm.generate_seconds, lm.generated_tokens, lm.resumed_samples),
        results["results"][name],
        json.loads(json.dumps(sections, default=str)),  # functions in configs become names
        settings.pass_at_k,
        counter,
        get_scorer(task.scorer).equal,
    )
    return TaskEvaluation(records, summary)


def _configured_task(task: TaskInfo, samples: int, seed: int) -> dict:
    """The lm-eval task set up as simple_evaluate would, without its environment report (seconds of
    subprocesses per call), and the global seeds set."""
    name = task.lm_eval_task
    loaded = task_manager().load([name])
    task_object = loaded["tasks"][name]
    if samples != task.samples:  # the run's --samples
        task_object.set_config(key="repeats", value=samples)
    changed = generation_kwargs(task, samples)
    if changed is not None:
        task_object.set_config(key="generation_kwargs", value=changed, update=True)
    if task_object.get_config("num_fewshot") is None:
        task_object.set_config(key="num_fewshot", value=0)
    task_object.set_fewshot_seed(seed=seed)
    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)
    return loaded


def _order(record) -> tuple:
    return (record.doc_id, record.sample_index)


def _scored(task: TaskInfo, record, logged: dict, counter, markers: tuple[str, ...], opened: bool) -> dict:
    """One sample's record: prompt, response, extracted answer, correctness, self-corrections, the engine's token
    counts and timing."""
    generation = record.generation
    score = score_response(task.scorer, generation.text, logged["target"], opened)
    lenient = correct_if_read_leniently(task.scorer, generation.text, logged["target"]) if score.truncated else None
    return {
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
        # closed its thinking, then ran into the token limit: graded on what the answer holds
        "limit_after_answer": generation.finish_reason == "length" and not score.truncated,
        "generated_tokens": generation.generated_tokens,
        "thinking_tokens": generation.thinking_tokens,
        "answer_tokens": generation.answer_tokens,
        "finish_reason": generation.finish_reason,
        "self_corrections": counter.count(generation.text, markers),
        "correct_if_read_leniently": lenient,
        "seconds": generation.seconds,
        "first_token_seconds": generation.first_token_seconds,
        "seconds_per_output_token": generation.seconds_per_output_token,
    }


@dataclass(frozen=True)
class Timing:
    wall_seconds: float  # the whole lm-eval evaluation
    generate_seconds: float  # inside the backend's generate calls
    generated_tokens: int  # by this run (resumed chunks not included)
    resumed_samples: int


def _estimates(problem_ids: list, records: list[dict], name: str) -> metrics.Estimate:
    return metrics.bootstrap_mean(metrics.per_problem_means(problem_ids, [float(r[name]) for r in records]))


def _share(problem_ids: list, records: list[dict], name: str) -> metrics.Estimate:
    return metrics.proportion(metrics.per_problem_means(problem_ids, [float(r[name]) for r in records]))


def _optional_mean(records: list[dict], name: str) -> float | None:
    values = [r[name] for r in records if r[name] is not None]
    return metrics.mean(values) if values else None


def _accuracy_where(records: list[dict], keep, name: str = "correct") -> Estimate | None:
    kept = [r for r in records if keep(r)]
    return metrics.accuracy([r["doc_id"] for r in kept], [bool(r[name]) for r in kept]) if kept else None


def _self_corrections(records: list[dict], counter) -> Estimate:
    """Per response (retries), or per `per_thinking_tokens` thinking tokens (hesitations), averaged per problem."""
    if counter.per_thinking_tokens is None:
        values = [float(r["self_corrections"]) for r in records]
    else:
        values = [r["self_corrections"] * counter.per_thinking_tokens / max(1, r["thinking_tokens"]) for r in records]
    return metrics.bootstrap_mean(metrics.per_problem_means([r["doc_id"] for r in records], values))


def summarize(
    records: list[dict],
    timing: Timing,
    lm_eval_metrics: dict,
    lm_eval_task: dict,
    pass_at_k: list[int] | None,
    self_corrections,
    equal=None,
) -> CellResults:
    """A cell's results from its sample records; `equal` (the task scorer's equivalence) groups maj@k's votes."""
    problem_ids = [r["doc_id"] for r in records]
    correct = [r["correct"] for r in records]
    samples_per_problem = min(metrics.per_problem_counts(problem_ids)) if records else 0
    ks = pass_at_k or [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= samples_per_problem]
    maj = {}
    if samples_per_problem > 1:
        answers = [r["extracted"] for r in records]
        maj[str(samples_per_problem)] = metrics.maj_at_k(problem_ids, answers, correct, samples_per_problem, equal)
    groups = (("all", lambda r: True), ("correct", lambda r: r["correct"]), ("incorrect", lambda r: not r["correct"]))
    return CellResults(
        problems=len(set(problem_ids)),
        samples=len(records),
        accuracy=metrics.accuracy(problem_ids, correct),
        pass_at_k={str(k): metrics.pass_at_k_estimate(problem_ids, correct, k) for k in ks},
        maj_at_k=maj,
        accuracy_completed=_accuracy_where(records, lambda r: not r["truncated"]),
        accuracy_truncated=_accuracy_where(records, lambda r: r["truncated"], "correct_if_read_leniently"),
        thinking_tokens=_estimates(problem_ids, records, "thinking_tokens"),
        answer_tokens=metrics.mean([r["answer_tokens"] for r in records]),
        truncation=_share(problem_ids, records, "truncated"),
        limit_after_answer=_share(problem_ids, records, "limit_after_answer"),
        thinking_distribution={
            group: metrics.distribution([r["thinking_tokens"] for r in records if keep(r)]) for group, keep in groups
        },
        self_corrections=_self_corrections(records, self_corrections),
        self_correction_unit=self_corrections.unit,
        # what one request waits for its answer: the wall time of the engine call (batch) that produced it
        latency_seconds=metrics.mean([r["seconds"] for r in records]),
        first_token_seconds=_optional_mean(records, "first_token_seconds"),
        seconds_per_output_token=_optional_mean(records, "seconds_per_output_token"),
        generated_tokens=sum(r["generated_tokens"] for r in records),
        eval_seconds=timing.wall_seconds,
        generate_seconds=timing.generate_seconds,
        tokens_per_second=timing.generated_tokens / timing.generate_seconds
        if timing.generate_seconds
        else float("nan"),
        resumed_samples=timing.resumed_samples,
        lm_eval={k: v for k, v in lm_eval_metrics.items() if k != "alias"},
        lm_eval_task=lm_eval_task,
        **catalogue.computed(records),  # the catalogue's metrics declared with a computation of their own
    )

"""Thin glue between lm-eval task YAMLs and rac_bench: data loading and scoring live in tested Python there.

Local data: set RAC_BENCH_DATA_DIR (rac-bench run --data-dir sets it) or pass --metadata '{"data_dir": ...}'.
"""

from __future__ import annotations

import datasets

from rac_bench.scoring import score_response
from rac_bench.task_data import CHOICE_INSTRUCTION, MATH_INSTRUCTION, load_rows
from rac_bench.zoo.arithmetic import evaluation_problems


def _dataset(task: str, data_dir=None) -> dict:
    return {"test": datasets.Dataset.from_list(load_rows(task, data_dir))}


def load_rac_arith(**_metadata) -> dict:
    return {"test": datasets.Dataset.from_list([p.to_record() for p in evaluation_problems()])}


def load_math500(data_dir=None, **_metadata) -> dict:
    return _dataset("math500", data_dir)


def load_aime24(data_dir=None, **_metadata) -> dict:
    return _dataset("aime24", data_dir)


def load_aime25(data_dir=None, **_metadata) -> dict:
    return _dataset("aime25", data_dir)


def load_amc23(data_dir=None, **_metadata) -> dict:
    return _dataset("amc23", data_dir)


def load_gpqa_diamond(data_dir=None, **_metadata) -> dict:
    return _dataset("gpqa_diamond", data_dir)


def math_prompt(doc: dict) -> str:
    return f"{doc['question']}\n{MATH_INSTRUCTION}"


def choice_prompt(doc: dict) -> str:
    return f"{doc['question']}\n\n{CHOICE_INSTRUCTION}"


def keep_all_samples(responses, docs):
    """Keep every repeat, so process_results can average over the n samples (avg@n)."""
    return responses


def _score_all(scorer: str, doc: dict, results: list) -> dict:
    responses = results[0] if results and isinstance(results[0], list) else results
    scores = [score_response(scorer, response, doc["answer"]) for response in responses]
    return {
        "accuracy": sum(s.correct for s in scores) / len(scores),
        "truncated": sum(s.truncated for s in scores) / len(scores),
    }


def process_integer_answer(doc: dict, results: list) -> dict:
    return _score_all("integer", doc, results)


def process_math(doc: dict, results: list) -> dict:
    return _score_all("math", doc, results)


def process_choice(doc: dict, results: list) -> dict:
    return _score_all("multiple_choice", doc, results)

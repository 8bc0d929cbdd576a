"""Thin glue between lm-eval task YAMLs and rac_bench: datasets and scoring live in tested Python there."""

from __future__ import annotations

import datasets

from rac_bench.scoring import score_response
from rac_bench.zoo.arithmetic import evaluation_problems


def load_rac_arith(**_metadata) -> dict:
    return {"test": datasets.Dataset.from_list([p.to_record() for p in evaluation_problems()])}


def process_integer_answer(doc: dict, results: list[str]) -> dict:
    score = score_response("integer", results[0], doc["answer"])
    return {"accuracy": float(score.correct), "truncated": float(score.truncated)}

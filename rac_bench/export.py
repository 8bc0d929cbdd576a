"""Cells in lm-eval's results-JSON shape (`results`, `configs`, `versions`, `n-shot`, ...), one document per
model variant, so tooling that reads lm-eval output files reads rac-bench's too. One table of truth: each metric
(`accuracy,<filter>`, `truncated,<filter>`) carries the leaderboard's value with the standard error of that same
estimate (binomial for shares, beside their Clopper–Pearson intervals; bootstrap otherwise); lm-eval's own
aggregate, which the one truncation rule makes equal, is kept as `lm_eval_<metric>,<filter>`."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from rac_bench import catalogue
from rac_bench.cells import Cell

LM_EVAL_SECTIONS = ("configs", "versions", "n-shot", "higher_is_better", "n-samples")


def file_name(text: str) -> str:
    """A safe file name for a model and method label (which may hold a hub id or a trace file's path)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "variant"


def file_names(labels: list[str]) -> dict[str, str]:
    """A safe file name per label, distinct: labels that make the same safe name (`a b`, `a_b`) each get a short
    hash of the label added, so one variant never overwrites another's file."""
    safe = {label: file_name(label) for label in dict.fromkeys(labels)}
    shared = Counter(safe.values())
    return {
        label: name if shared[name] == 1 else f"{name}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"
        for label, name in safe.items()
    }


def _document(cell: Cell, name: str) -> dict:
    identity = cell.identity
    return {
        "results": {},
        "group_subtasks": {},
        **{section: {} for section in LM_EVAL_SECTIONS},
        "config": {
            "model": "rac-bench",
            "model_args": f"pretrained={cell.checkpoint or identity.model}",
            "model_name": identity.model,
            "method": identity.method,
            "sparsity": identity.sparsity,
            "pattern": identity.pattern,
            "variant_fingerprint": cell.variant_fingerprint,
            "limit": cell.settings["limit"],
            "bootstrap_iters": 0,
            "random_seed": cell.settings["seed"],
        },
        "git_hash": cell.provenance["git_commit"],
        "model_name": f"{identity.model} ({identity.variant_label})",
        "model_name_sanitized": name,
    }


def _metrics(cell: Cell) -> dict[str, float]:
    """Each metric lm-eval reported, as the leaderboard's estimate: value, standard error and 95% interval."""
    estimates = {metric.lm_eval: metric.value(cell) for metric in catalogue.metrics() if metric.lm_eval}
    values = dict(cell.results.lm_eval)  # lm-eval's stderr entries say N/A: it ran without its bootstrap
    for key, reported in cell.results.lm_eval.items():
        metric, _, filter_name = key.partition(",")
        if metric not in estimates:
            continue
        estimate = estimates[metric]
        values[key] = estimate.value
        values[f"{metric}_stderr,{filter_name}"] = estimate.standard_error
        values[f"rac_bench_{metric}_ci_low,{filter_name}"] = estimate.low
        values[f"rac_bench_{metric}_ci_high,{filter_name}"] = estimate.high
        values[f"lm_eval_{metric},{filter_name}"] = reported
    return values


def lm_eval_results(cells: list[Cell]) -> dict[str, dict]:
    """{file name: results JSON}, one per model variant; a variant's tasks share one document, as one lm-eval
    call would."""
    documents: dict[str, dict] = {}
    labels = [f"{cell.identity.model}__{cell.identity.variant_label}" for cell in cells]
    names = file_names(labels)
    for cell, label in zip(cells, labels):
        name = names[label]
        document = documents.setdefault(name, _document(cell, name))
        task = cell.identity.task
        document["results"][task] = {"alias": task, **_metrics(cell)}
        document["group_subtasks"][task] = []
        for section in LM_EVAL_SECTIONS:
            if section in cell.results.lm_eval_task:
                document[section][task] = cell.results.lm_eval_task[section]
    return documents

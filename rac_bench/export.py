"""Cells in lm-eval's results-JSON shape (`results`, `configs`, `versions`, `n-shot`, ...), one document per
model variant, so tooling that reads lm-eval output files reads rac-bench's too."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

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


def _standard_errors(cell: Cell) -> dict[str, float]:
    """lm-eval ran without its bootstrap, so its stderr entries (`accuracy_stderr,<filter>`) say N/A; these are
    rac-bench's bootstrap standard errors over the same per-problem scores."""
    estimates = {"accuracy": cell.results.accuracy, "truncated": cell.results.truncation}
    errors = {}
    for key in cell.results.lm_eval:
        metric, _, filter_name = key.partition(",")
        if metric in estimates:
            errors[f"{metric}_stderr,{filter_name}"] = estimates[metric].standard_error
    return errors


def lm_eval_results(cells: list[Cell]) -> dict[str, dict]:
    """{file name: results JSON}, one per model variant; a variant's tasks share one document, as one lm-eval
    call would."""
    documents: dict[str, dict] = {}
    labels = [f"{cell.identity.model}__{cell.identity.variant_label}" for cell in cells]
    names = file_names(labels)
    for cell, label in zip(cells, labels):
        name = names[label]
        document = documents.setdefault(name, _document(cell, name))
        task, accuracy = cell.identity.task, cell.results.accuracy
        document["results"][task] = {
            "alias": task,
            **cell.results.lm_eval,
            **_standard_errors(cell),
            # rac-bench's own estimate, with its bootstrap interval (lm-eval keeps a stderr only)
            "rac_bench_accuracy,none": accuracy.value,
            "rac_bench_accuracy_ci_low,none": accuracy.low,
            "rac_bench_accuracy_ci_high,none": accuracy.high,
        }
        document["group_subtasks"][task] = []
        for section in LM_EVAL_SECTIONS:
            if section in cell.results.lm_eval_task:
                document[section][task] = cell.results.lm_eval_task[section]
    return documents

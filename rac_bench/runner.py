"""Execute a run: load the dense model, build each model variant (prune once), evaluate it on every task,
and write per-sample records, cell summaries and the leaderboard to the output directory."""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from rac_bench import metrics
from rac_bench.backends.base import SamplingSettings
from rac_bench.backends import create_backend
from rac_bench.calibration.provider import CalibrationProvider
from rac_bench.checkpoints import REPORT_FILE, checkpoint_dir, load_checkpoint, save_checkpoint
from rac_bench.config import RunConfig
from rac_bench.evaluation import evaluate_task
from rac_bench.fingerprint import weights_fingerprint
from rac_bench.leaderboard.table import render_table
from rac_bench.methods import PruneContext
from rac_bench.methods.spec import parse_method_spec
from rac_bench.models import EMBEDDED_MODEL_NAME, load_model, model_path
from rac_bench.plan import DENSE_TARGET, ModelVariant, model_variants, text_corpus
from rac_bench.provenance import provenance
from rac_bench.task_data import DATA_DIR_VARIABLE
from rac_bench.tasks import get_task

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    output_dir: Path
    cells: list[dict]
    table: str


def write_atomic(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}-", delete=False, encoding="utf-8"
    ) as f:
        f.write(text)
    os.replace(f.name, path)


def set_threads(threads: int | None) -> int:
    count = threads or os.cpu_count() or 1
    torch.set_num_threads(count)
    return count


def build_variant(variant: ModelVariant, dense_model, tokenizer, config: RunConfig, calibration, variant_fp: str):
    """(model, pruning report dict); dense is the loaded model itself. A checkpoint saved earlier for the same
    fingerprint is reused, and its report keeps the pruning time it originally took."""
    spec = parse_method_spec(variant.method)
    if variant.method == "dense":
        return dense_model, None
    directory = checkpoint_dir(config.cache_dir, variant_fp)
    cached = load_checkpoint(directory, dense_model.dtype)
    if cached is not None:
        log.info("%s %s: reusing checkpoint %s", variant.method, variant.target.label, directory)
        model, report = cached
        return model, {**report, "checkpoint_reused": True}
    if spec.source:
        calibration(spec.source)  # built (and timed) outside the pruning time
    model = copy.deepcopy(dense_model)
    started = time.perf_counter()
    context = PruneContext(
        variant.target, tokenizer, calibration, config.ignore, source=spec.source, cot_weight=config.cot_weight
    )
    report = spec.method.prune(model, context)
    prune_seconds = time.perf_counter() - started
    report_dict = report.to_dict() if report is not None else {}
    report_dict.update(
        method=variant.method,
        pattern=variant.target.pattern,
        target_sparsity=variant.target.sparsity,
        prune_seconds=prune_seconds,
        checkpoint_reused=False,
        variant_fingerprint=variant_fp,
    )
    save_checkpoint(model, tokenizer, directory, report_dict)
    return model, report_dict


def add_paired_deltas(cells: list[dict], samples: list[dict]) -> None:
    """Each cell's accuracy minus dense's on the same task and problems, with a paired bootstrap CI."""
    by_cell: dict = {}
    for sample in samples:
        key = (sample["method"], sample["sparsity"], sample["pattern"], sample["task"])
        by_cell.setdefault(key, []).append(sample)
    scores = {
        key: metrics.per_problem_scores([s["doc_id"] for s in own], [float(s["correct"]) for s in own])
        for key, own in by_cell.items()
    }
    for cell in cells:
        dense = scores.get(("dense", DENSE_TARGET.sparsity, DENSE_TARGET.pattern, cell["task"]))
        own = scores.get((cell["method"], cell["sparsity"], cell["pattern"], cell["task"]))
        if dense and own:
            cell["delta_vs_dense"] = metrics.paired_difference(dense, own).to_dict()


def prepare(config: RunConfig):
    """(dense model, tokenizer, its weight fingerprint, calibration provider) for a config."""
    set_threads(config.threads)
    if config.data_dir is not None:
        os.environ[DATA_DIR_VARIABLE] = str(config.data_dir.resolve())  # read by the task YAMLs' loaders
    dense_model, tokenizer = load_model(config.model)
    model_fp = weights_fingerprint(dense_model)
    calibration = CalibrationProvider(
        dense_model,
        tokenizer,
        get_task(config.calibration_prompts).calibration_questions()[: config.calibration_samples],
        SamplingSettings(config.trace_temperature, config.trace_top_p, config.trace_max_new_tokens, config.seed),
        model_fp,
        config.cache_dir,
        config.batch_size,
        text=text_corpus(config),
        token_budget=config.calibration_tokens,
    )
    return dense_model, tokenizer, model_fp, calibration


def prune(config: RunConfig, variant: ModelVariant, out: Path) -> dict:
    """Prune once and place the checkpoint (weights, tokenizer, chat template, report) at `out`; the copy is
    made beside it and renamed, so `out` is either complete or absent."""
    dense_model, tokenizer, model_fp, calibration = prepare(config)
    variant_fp = variant.fingerprint(config, model_fp)
    _, report = build_variant(variant, dense_model, tokenizer, config, calibration, variant_fp)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    shutil.copytree(checkpoint_dir(config.cache_dir, variant_fp), staging, dirs_exist_ok=True)
    staging.rename(out)
    return {**report, "model_fingerprint": model_fp}


def build_calibration_sets(config: RunConfig, model_fp: str, calibration) -> None:
    """Build each calibration set that a variant without a saved checkpoint needs, before anything is evaluated
    or written, so that unusable calibration data (e.g. a corpus shorter than one window) fails first."""
    for variant in model_variants(config):
        source = parse_method_spec(variant.method).source
        saved = checkpoint_dir(config.cache_dir, variant.fingerprint(config, model_fp)) / REPORT_FILE
        if source and not saved.exists():
            calibration(source)


def run(config: RunConfig) -> RunResult:
    dense_model, tokenizer, model_fp, calibration = prepare(config)
    build_calibration_sets(config, model_fp, calibration)
    output_dir = config.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    cells, samples = [], []
    for variant in model_variants(config):
        variant_fp = variant.fingerprint(config, model_fp)
        model, report = build_variant(variant, dense_model, tokenizer, config, calibration, variant_fp)
        path = checkpoint_dir(config.cache_dir, variant_fp) if report is not None else model_path(config.model)
        backend = create_backend(config.backend, model, tokenizer, path, config.batch_size, config.vllm)
        for task_name in config.tasks:
            task = get_task(task_name)
            log.info("evaluating %s %s on %s", variant.method, variant.target.label, task_name)
            evaluation = evaluate_task(
                backend,
                tokenizer,
                task,
                config.limit,
                config.samples,
                config.max_new_tokens,
                config.seed,
                config.pass_at_k,
            )
            cell = {
                "model": config.model or EMBEDDED_MODEL_NAME,
                "model_fingerprint": model_fp,
                "method": variant.method,
                "pattern": variant.target.pattern,
                "sparsity": variant.target.sparsity,
                "task": task_name,
                "backend": backend.name,
                "engine_startup_seconds": getattr(backend, "startup_seconds", 0.0),
                "variant_fingerprint": variant_fp,
                "checkpoint": str(checkpoint_dir(config.cache_dir, variant_fp)) if report is not None else None,
                "prune_seconds": report["prune_seconds"] if report else 0.0,
                "calibration_seconds": calibration.seconds.get(parse_method_spec(variant.method).source or "", 0.0),
                "pruning": report,
                **evaluation.summary,
            }
            cells.append(cell)
            samples.extend(
                {
                    "method": variant.method,
                    "pattern": variant.target.pattern,
                    "sparsity": variant.target.sparsity,
                    **record,
                }
                for record in evaluation.samples
            )
        if hasattr(backend, "close"):
            backend.close()
    add_paired_deltas(cells, samples)
    table = render_table(cells)
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "threads": torch.get_num_threads(),
        "provenance": provenance(),
        "cells": cells,
    }
    write_atomic(output_dir / "samples.jsonl", "".join(json.dumps(s) + "\n" for s in samples))
    write_atomic(output_dir / "summary.json", json.dumps(summary, indent=2, default=str))
    write_atomic(output_dir / "leaderboard.md", render_table(cells, "github") + "\n")
    return RunResult(output_dir, cells, table)

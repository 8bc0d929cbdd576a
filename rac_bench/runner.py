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
from rac_bench.calibration.prompt_sets import calibration_questions
from rac_bench.calibration.provider import CalibrationProvider
from rac_bench.checkpoints import REPORT_FILE, checkpoint_dir, load_checkpoint, save_checkpoint
from rac_bench.config import RunConfig
from rac_bench.evaluation import evaluate_task
from rac_bench.fingerprint import weights_fingerprint
from rac_bench.leaderboard.table import render_table
from rac_bench.methods import PruneContext
from rac_bench.methods.spec import parse_method_spec
from rac_bench.models import EMBEDDED_MODEL_NAME, load_model, model_path
from rac_bench.export import lm_eval_results
from rac_bench.files import write_atomic
from rac_bench.plan import (
    DENSE_TARGET,
    ModelVariant,
    calibration_fingerprint,
    cell_fingerprint,
    evaluation_settings,
    model_variants,
    text_corpus,
)
from rac_bench.provenance import provenance
from rac_bench.store import Store, check_store, open_store
from rac_bench.task_data import DATA_DIR_VARIABLE
from rac_bench.tasks import get_task

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    output_dir: Path
    cells: list[dict]
    table: str


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
        variant.target,
        tokenizer,
        calibration,
        config.ignore,
        source=spec.source,
        cot_weight=config.cot_weight,
        device=config.device,
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


def paired_delta(dense_samples: list[dict], own_samples: list[dict]) -> dict:
    """A cell's accuracy minus dense's on the same problems, with a paired bootstrap CI."""
    scores = [
        metrics.per_problem_scores([s["doc_id"] for s in samples], [float(s["correct"]) for s in samples])
        for samples in (dense_samples, own_samples)
    ]
    return metrics.paired_difference(*scores).to_dict()


class StoredGenerations:
    """The GenerationLog of one cell, kept in the results store until the cell is finished."""

    def __init__(self, store: Store, cell_key: str, resume: bool):
        self.store, self.cell_key, self.resume = store, cell_key, resume

    def saved(self) -> dict:
        return self.store.generations(self.cell_key) if self.resume else {}

    def save(self, rows: list) -> None:
        self.store.add_generations(self.cell_key, rows)


def prepare(config: RunConfig) -> DenseModel:
    """The dense model, its tokenizer, weight fingerprint and calibration provider for a config."""
    set_threads(config.threads)
    if config.data_dir is not None:
        os.environ[DATA_DIR_VARIABLE] = str(config.data_dir.resolve())  # read by the task YAMLs' loaders
    dense_model, tokenizer = load_model(config.model, getattr(torch, config.dtype))
    model_fp = weights_fingerprint(dense_model)
    calibration = CalibrationProvider(
        dense_model,
        tokenizer,
        calibration_questions(config.calibration_prompts, config.calibration_samples, config.seed, config.data_dir),
        SamplingSettings(config.trace_temperature, config.trace_top_p, config.trace_max_new_tokens, config.seed),
        model_fp,
        config.cache_dir,
        config.batch_size,
        text=text_corpus(config),
        token_budget=config.calibration_tokens,
        device=config.device,
    )
    return DenseModel(dense_model, tokenizer, model_fp, calibration)


def prune(config: RunConfig, variant: ModelVariant, out: Path) -> dict:
    """Prune once and place the checkpoint (weights, tokenizer, chat template, report) at `out`; the copy is
    made beside it and renamed, so `out` is either complete or absent."""
    dense = prepare(config)
    variant_fp = variant.fingerprint(config, dense.fingerprint)
    _, report = build_variant(variant, dense.model, dense.tokenizer, config, dense.calibration, variant_fp)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    shutil.copytree(checkpoint_dir(config.cache_dir, variant_fp), staging, dirs_exist_ok=True)
    staging.rename(out)
    return {**report, "model_fingerprint": dense.fingerprint}


def build_calibration_sets(config: RunConfig, model_fp: str, calibration) -> None:
    """Build each calibration set that a variant without a saved checkpoint needs, before anything is evaluated
    or written, so that unusable calibration data (e.g. a corpus shorter than one window) fails first."""
    for variant in model_variants(config):
        source = parse_method_spec(variant.method).source
        saved = checkpoint_dir(config.cache_dir, variant.fingerprint(config, model_fp)) / REPORT_FILE
        if source and not saved.exists():
            calibration(source)


def run(config: RunConfig, command: str = "") -> RunResult:
    """Evaluate every cell of the plan, skipping those the store already holds (when resuming), and write
    the run's exports from the store."""
    check_store(config.store)  # a foreign or unwritable store fails now; a new one is created only when needed
    stores: list[Store] = []
    try:
        return _run(config, stores, command)
    finally:
        for store in stores:
            store.close()


@dataclass
class DenseModel:
    """What every variant job needs from the dense model: built once per process."""

    model: object
    tokenizer: object
    fingerprint: str
    calibration: CalibrationProvider


def cell_keys(config: RunConfig, variant_fp: str) -> dict[str, str]:
    """A model variant's cell key for each task."""
    return {task: cell_fingerprint(config, variant_fp, task) for task in config.tasks}


def run_variant(config: RunConfig, store: Store, run_id: str, dense: DenseModel, variant: ModelVariant) -> list[str]:
    """Prune (or reuse) one model variant and evaluate its unfinished cells, each stored as it finishes.
    Returns the keys of all its cells. Dense's cells must be finished first: the deltas are paired with them."""
    variant_fp = variant.fingerprint(config, dense.fingerprint)
    keys = cell_keys(config, variant_fp)
    dense_keys = cell_keys(config, ModelVariant("dense", DENSE_TARGET).fingerprint(config, dense.fingerprint))
    source = parse_method_spec(variant.method).source
    pending = [task for task, key in keys.items() if not (config.resume and store.cell(key))]
    if not pending:
        log.info("%s %s: every cell is in the store; skipped", variant.method, variant.target.label)
        return list(keys.values())
    calibration = dense.calibration
    model, report = build_variant(variant, dense.model, dense.tokenizer, config, calibration, variant_fp)
    path = checkpoint_dir(config.cache_dir, variant_fp) if report is not None else model_path(config.model)
    backend = create_backend(
        config.backend, model, dense.tokenizer, path, config.batch_size, config.vllm, device=config.device
    )
    run_provenance = provenance()
    for task_name in pending:
        key = keys[task_name]
        log.info("evaluating %s %s on %s", variant.method, variant.target.label, task_name)
        evaluation = evaluate_task(
            backend,
            dense.tokenizer,
            get_task(task_name),
            config.limit,
            config.samples,
            config.max_new_tokens,
            config.seed,
            config.pass_at_k,
            StoredGenerations(store, key, config.resume),
        )
        cell = {
            "cell_key": key,
            "run_id": run_id,
            "model": config.model or EMBEDDED_MODEL_NAME,
            "model_fingerprint": dense.fingerprint,
            "method": variant.method,
            "pattern": variant.target.pattern,
            "sparsity": variant.target.sparsity,
            "task": task_name,
            "backend": backend.name,
            "engine_startup_seconds": getattr(backend, "startup_seconds", 0.0),
            "variant_fingerprint": variant_fp,
            "checkpoint": str(path) if report is not None else None,
            "prune_seconds": report["prune_seconds"] if report else 0.0,
            "calibration_seconds": calibration.seconds.get(source or "", 0.0),
            "pruning": report,
            "settings": {
                **evaluation_settings(config, task_name),
                "calibration": calibration_fingerprint(source, config) if source else None,
                "ignore": config.ignore,
            },
            "provenance": run_provenance,
            **evaluation.summary,
        }
        samples = [
            {"method": variant.method, "pattern": variant.target.pattern, "sparsity": variant.target.sparsity, **r}
            for r in evaluation.samples
        ]
        if variant.method != "dense" and store.cell(dense_keys[task_name]):
            cell["delta_vs_dense"] = paired_delta(store.samples(dense_keys[task_name]), samples)
        store.add_cell(key, run_id, cell, samples)
    if hasattr(backend, "close"):
        backend.close()
    return list(keys.values())


def _run(config: RunConfig, stores: list[Store], command: str) -> RunResult:
    config_record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    run_provenance = provenance()
    variants = model_variants(config)
    run_id, keys = None, []
    for model_config in (config.for_model(model) for model in config.models):
        dense = None
        if config.executor != "ray":  # Ray workers load the model themselves
            dense = prepare(model_config)
            build_calibration_sets(model_config, dense.fingerprint, dense.calibration)
        if run_id is None:  # unusable models and calibration data have failed by now, before anything is written
            stores.append(open_store(config.store))
            store = stores[0]
            run_id = store.start_run(command, config_record, run_provenance)
        if dense is None:
            from rac_bench.executors import run_on_ray

            keys += run_on_ray(model_config, run_id, variants)
        else:
            keys += [key for variant in variants for key in run_variant(model_config, store, run_id, dense, variant)]
    store.finish_run(run_id)
    output_dir = config.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    cells = [store.cell(key) for key in keys]
    samples = [sample for key in keys for sample in store.samples(key)]
    table = render_table(cells)
    summary = {
        "config": config_record,
        "command": command,
        "threads": torch.get_num_threads(),
        "provenance": run_provenance,
        "cells": cells,
    }
    exports = {
        "samples.jsonl": "".join(json.dumps(s) + "\n" for s in samples),
        "summary.json": json.dumps(summary, indent=2, default=str),
        "leaderboard.md": render_table(cells, "github") + "\n",
        **{
            f"lm_eval/{name}.json": json.dumps(doc, indent=2, default=str)
            for name, doc in lm_eval_results(cells).items()
        },
    }
    (output_dir / "lm_eval").mkdir(exist_ok=True)
    for name, text in exports.items():  # every document rendered first: a rendering error writes nothing
        write_atomic(output_dir / name, text)
    return RunResult(output_dir, cells, table)

"""Model variants: the dense model as loaded, or a pruned copy of it. A pruned variant is saved as a
checkpoint under its fingerprint, and a later run with the same fingerprint loads it instead of pruning again
(its report keeps the pruning time it originally took).

A label is a claim checked against the weights: a pruned variant is the checkpoint read back from disk, its
achieved sparsity counted there (rac_bench.pruning.achieved), and a variant whose weights fall short of its label
(by more than LABEL_TOLERANCE, or breaking its N:M pattern) is refused before its checkpoint is kept."""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rac_bench.checkpoints import (
    REPORT_FILE,
    checkpoint_dir,
    load_checkpoint,
    load_weights,
    save_weights,
    staged_checkpoint,
    write_report,
)
from rac_bench.config import RunConfig
from rac_bench.dense_model import DenseModel
from rac_bench.errors import ConfigError, MethodFailure, ModelLoadError, RacBenchError, first_line
from rac_bench.files import give_ordinary_permissions
from rac_bench.methods import PruneContext
from rac_bench.models import user_errors
from rac_bench.packing import write_packed
from rac_bench.plan import Plan, Variant
from rac_bench.pruning.achieved import achieved_removal, achieved_sparsity
from rac_bench.pruning.engine import MatrixPruneError
from rac_bench.pruning.passes import PassSettings
from rac_bench.threads import set_threads
from rac_bench.weights import check_finite

log = logging.getLogger(__name__)

LABEL_TOLERANCE = 0.005  # half a point of sparsity


class LabelError(RacBenchError):
    """A variant whose saved weights do not meet its label."""


@dataclass
class BuiltVariant:
    model: object
    fingerprint: str
    report: dict | None  # None for dense
    checkpoint: Path | None  # None for dense
    achieved: dict  # the achieved sparsity of the weights evaluated


def build_variant(variant: Variant, dense: DenseModel, config: RunConfig) -> BuiltVariant:
    fingerprint = variant.fingerprint(dense.fingerprint)
    pruning = config.pruning
    if variant.is_dense:
        achieved = achieved_sparsity(dense.model, variant.target, pruning.ignore, pruning.lm_head)
        return BuiltVariant(dense.model, fingerprint, None, None, achieved)
    if variant.is_outside:
        return _outside(variant, dense, fingerprint)
    directory = checkpoint_dir(config.execution.cache_dir, fingerprint)
    cached = None if config.execution.rebuild else _cached(directory, dense.model.dtype)
    if cached is not None:
        log.info("%s %s: reusing checkpoint %s", variant.method, variant.target.label, directory)
        model, report = cached
        achieved = _achieved(variant, model, dense, config)
        check_label(variant, achieved)
        return BuiltVariant(model, fingerprint, {**report, "checkpoint_reused": True}, directory, achieved)
    if variant.spec.source:
        dense.calibration(variant.spec.source)  # built (and timed) outside the pruning time
    model = copy.deepcopy(dense.model)
    source = variant.spec.source  # the weight applies only to generated tokens, as the fingerprint records it
    cot_weight = config.calibration.cot_weight if source and source.generated_tokens else None
    context = PruneContext(
        variant.target,
        copy.deepcopy(dense.tokenizer),  # a method may change its tokenizer, never the one every cell is evaluated with
        dense.calibration,
        pruning.ignore,
        source=variant.spec.source,
        cot_weight=cot_weight,
        device=config.execution.device,
        passes=PassSettings(
            sequential=pruning.hessians == "sequential",
            lm_head=pruning.lm_head,
            experts=pruning.experts,
            expert_min_tokens=pruning.expert_min_tokens,
        ),
    )
    set_threads(config.execution.threads, model)  # the cores free now, for a model over the small-model cutoff
    started = time.perf_counter()
    report_dict = _pruned(variant, model, context)
    _check_finite(variant, model)
    report_dict.update(
        method=variant.method,
        pattern="structured" if variant.is_structured else variant.target.pattern,
        target_sparsity=variant.target.sparsity,
        prune_seconds=time.perf_counter() - started,
        checkpoint_reused=False,
        variant_fingerprint=fingerprint,
        calibration=_calibration_manifest(variant, dense),
    )
    with staged_checkpoint(directory, replace=config.execution.rebuild) as staging:
        save_weights(model, dense.tokenizer, staging)
        del model  # the variant is what was saved, read back
        saved = load_weights(staging, dense.model.dtype)
        achieved = _achieved(variant, saved, dense, config)
        check_label(variant, achieved)
        report_dict["achieved_sparsity"] = achieved
        write_report(staging, report_dict)
    return BuiltVariant(saved, fingerprint, report_dict, directory, achieved)


def _cached(directory: Path, dtype):
    """The cached checkpoint, or None; a damaged one (a truncated file, a lost tensor) is one line saying how to
    rebuild it, not a traceback at every run."""
    try:
        return load_checkpoint(directory, dtype)
    except ModelLoadError as error:
        raise ModelLoadError(f"the cached checkpoint is damaged: {error}; rerun with --rebuild") from None


def _check_finite(variant: Variant, model) -> None:
    try:
        check_finite(model, variant.method)
    except ModelLoadError as error:
        raise LabelError(f"method {error}; nothing was kept") from None


def _achieved(variant: Variant, model, dense: DenseModel, config: RunConfig) -> dict:
    """Counted in the weights: zeros for a pruned variant, weights removed against dense for a structured one."""
    if variant.is_structured:
        return achieved_removal(model, dense.model, config.pruning.ignore)
    return achieved_sparsity(model, variant.target, config.pruning.ignore, config.pruning.lm_head)


def _outside(variant: Variant, dense: DenseModel, fingerprint: str) -> BuiltVariant:
    """A checkpoint saved by another tool, loaded as transformers loads it (pruned, fake-quantized or in a format a
    quantization package reads), with its sparsity counted in its weights."""
    directory = variant.spec.checkpoint
    with user_errors(str(directory)):
        model = load_weights(directory, dense.model.dtype)
    vocabulary, expected = (
        model.get_input_embeddings().weight.shape[0],
        dense.model.get_input_embeddings().weight.shape[0],
    )
    if vocabulary != expected:
        raise ModelLoadError(
            f"{variant.method}: {directory} has {vocabulary} token embeddings, the run's model {dense.name} "
            f"{expected}; an outside checkpoint must be a compressed copy of --model"
        )
    achieved = achieved_sparsity(model, variant.target, None, False)
    report = {
        "method": variant.method,
        "outside_checkpoint": str(directory),
        "variant_fingerprint": fingerprint,
        "achieved_sparsity": achieved,
        "prune_seconds": 0.0,
    }
    return BuiltVariant(model, fingerprint, report, directory, achieved)


def _pruned(variant: Variant, model, context: PruneContext) -> dict:
    """The method's report (empty when it returns None). Anything it raises that is not bad input is a
    MethodFailure naming the method and, where the engine knows it, the matrix."""
    try:
        report = variant.spec.method.prune(model, context)
        return report.to_dict() if report is not None else {}
    except RacBenchError:
        raise
    except SystemExit as error:  # a method that exits is a crash, never a finished run (`run && gate`)
        raise MethodFailure(f"method {variant.method} called sys.exit({error.code!r}) while pruning") from None
    except Exception as error:
        where, cause = "", error
        if isinstance(error, MatrixPruneError):
            where, cause = f" on {error.matrix}", error.__cause__
        raise MethodFailure(
            f"method {variant.method} failed{where}: {type(cause).__name__}: {first_line(cause)}"
        ) from error


def check_label(variant: Variant, achieved: dict) -> None:
    """Refuse a variant whose weights do not meet its label (LabelError)."""
    target = variant.target
    violations = achieved.get("n_m_violations", 0)
    if target.is_n_m and violations:
        raise LabelError(
            f"{variant.method} is labelled {target.pattern}, but {violations:,} groups of {target.m} input weights in "
            f"its saved checkpoint hold fewer than {target.n} zeros; an N:M variant needs {target.n} zeros in every "
            f"group of {target.m}"
        )
    off_grid = (achieved.get("quantization") or {}).get("violations", 0)
    if target.quantization is not None and off_grid:
        quantization = target.quantization
        groups = f"groups of {quantization.group_size}" if quantization.group_size else "rows"
        raise LabelError(
            f"{variant.method} is labelled {quantization.bits}-bit, but {off_grid:,} {groups} of its saved weights "
            f"hold more than {quantization.levels} distinct values; a {quantization.bits}-bit variant's weights lie on "
            f"a grid of {quantization.levels} levels per group"
        )
    if achieved.get("structured") and achieved["prunable"] > target.sparsity + LABEL_TOLERANCE:
        raise LabelError(
            f"{variant.method} is labelled sparsity {target.sparsity:g}, but its saved checkpoint holds "
            f"{achieved['prunable']:.3f} fewer prunable weights than dense; a structured variant must match its label "
            f"within {LABEL_TOLERANCE * 100:g} points (nothing was kept)"
        )
    if achieved["prunable"] < target.sparsity - LABEL_TOLERANCE:
        raise LabelError(
            f"{variant.method} is labelled sparsity {target.sparsity:g}, but its saved weights are "
            f"{achieved['prunable']:.3f} sparse over the {achieved['prunable_weights']:,} prunable weights; a variant "
            f"must reach its label within {LABEL_TOLERANCE * 100:g} points (nothing was kept)"
        )


def _calibration_manifest(variant: Variant, dense: DenseModel) -> dict | None:
    """Saved with the checkpoint and in every cell: the calibration settings and what they gave."""
    if variant.spec.source is None:
        return None
    return {"settings": variant.calibration, **dense.calibration.manifest(variant.spec.source)}


def build_calibration_sets(plan: Plan, dense: DenseModel) -> None:
    """Build each calibration set that a variant without a saved checkpoint needs, before anything is evaluated
    or written, so that unusable calibration data (e.g. a corpus shorter than one window) fails first."""
    for variant in plan.variants:
        saved = checkpoint_dir(plan.config.execution.cache_dir, variant.fingerprint(dense.fingerprint)) / REPORT_FILE
        if variant.spec.source and (plan.config.execution.rebuild or not saved.exists()):
            dense.calibration(variant.spec.source)


def prune_to_directory(variant: Variant, dense: DenseModel, config: RunConfig, out: Path, packed=False) -> dict:
    """Prune once and place the checkpoint (weights, tokenizer, chat template, report) at `out`; the copy is
    made beside it and renamed, so `out` is either complete or absent. `packed`: a quantized variant's weights as
    compressed-tensors pack-quantized (rac_bench.packing), which vLLM serves with its integer kernels."""
    quantization = variant.target.quantization
    if packed and quantization is None:
        raise ConfigError(f"{variant.method}: --format compressed-tensors packs quantized variants (rtn:w4g64, ...)")
    built = build_variant(variant, dense, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        if packed:
            pruning = config.pruning
            write_packed(built.model, quantization, built.checkpoint, staging, pruning.ignore, pruning.lm_head)
        else:
            shutil.copytree(built.checkpoint, staging, dirs_exist_ok=True)
        give_ordinary_permissions(staging)  # mkdtemp's 0700 and the copied modes: not what `--out` asked for
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**built.report, "model_fingerprint": dense.fingerprint}

"""The dense model of a run, loaded once per process, with what every variant job needs from it: its tokenizer,
its weight fingerprint and the calibration provider that builds calibration sets from it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from rac_bench.backends import ModelHandle, backend_identity, create_backend
from rac_bench.calibration.prompt_sets import QuestionStream
from rac_bench.calibration.provider import CalibrationProvider
from rac_bench.calibration.sources import BuildInputs
from rac_bench.calibration.sources.prompts import PromptRenderer
from rac_bench.config import RunConfig
from rac_bench.dense_fingerprints import remember
from rac_bench.errors import MethodFailure
from rac_bench.fingerprint import fingerprint, weights_fingerprint
from rac_bench.models import EMBEDDED_MODEL_NAME, load_model, model_path
from rac_bench.task_data import DATA_DIR_VARIABLE
from rac_bench.threads import set_threads


@dataclass
class DenseModel:
    reference: str | None  # None: the embedded tiny reasoner
    path: str  # the directory transformers and vLLM load (a GGUF file's converted one)
    model: torch.nn.Module
    tokenizer: object
    fingerprint: str
    calibration: CalibrationProvider

    tokenizer_state: str = ""  # what the tokenizer was when loaded (see check_unchanged)

    @property
    def name(self) -> str:
        return self.reference or EMBEDDED_MODEL_NAME

    def remember(self, config: RunConfig) -> None:
        """Record the fingerprint by the model's files, so that a rerun finds its cells without loading the model
        (rac_bench.dense_fingerprints); called when the run starts writing, so bad input leaves nothing behind."""
        remember(self.reference, config.execution.dtype, config.execution.cache_dir, self.fingerprint)

    def check_unchanged(self, weights: bool) -> None:
        """Refuse to evaluate with a dense model or tokenizer that changed since it was loaded: methods get copies,
        but a method that reaches the originals (through the calibration provider) would change the dense row and
        every delta. `weights`: hash the weights too (done once, before dense is evaluated)."""
        changed = tokenizer_state(self.tokenizer) != self.tokenizer_state
        if weights and not changed:
            changed = model_fingerprint(self.model, self.tokenizer) != self.fingerprint
        if changed:
            raise MethodFailure(
                f"the dense model {self.name} or its tokenizer changed after it was loaded: a method of this run "
                "changed it in place; nothing of dense was evaluated (methods must change only the model they get)"
            )


def model_fingerprint(model, tokenizer) -> str:
    """What the dense model is: its weights, the chat template that renders every prompt, and the end-of-sequence
    ids its generation config adds to its tokenizer's, which decide where every response stops (smollm2-reasoner
    has one). A model without such ids keeps the fingerprint it had before they counted."""
    described = {"weights": weights_fingerprint(model), "chat_template": tokenizer.chat_template}
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    also = sorted(set(eos if isinstance(eos, list) else [eos]) - {None, tokenizer.eos_token_id})
    return fingerprint(described | ({"stops_also_at": also} if also else {}))


def tokenizer_state(tokenizer) -> str:
    """What of a tokenizer changes what a prompt becomes or where generation stops (the backends set padding
    themselves, so it is left out)."""
    return fingerprint(
        {
            "chat_template": tokenizer.chat_template,
            "ends": [str(tokenizer.bos_token), str(tokenizer.eos_token)],
            "size": len(tokenizer),
        }
    )


def _backend(handle: ModelHandle, config: RunConfig):
    """The run's backend on the dense model (for RAC's traces), with the threads free when sampling starts."""
    set_threads(config.execution.threads, handle.model)
    return create_backend(handle, config.execution)


def load_dense(config: RunConfig, reference: str | None) -> DenseModel:
    if config.data_dir is not None:
        os.environ[DATA_DIR_VARIABLE] = str(config.data_dir.resolve())  # read by the task YAMLs' loaders
    path = model_path(reference, config.execution.cache_dir)
    model, tokenizer = load_model(path, getattr(torch, config.execution.dtype))
    set_threads(config.execution.threads, model)
    dense_fingerprint = model_fingerprint(model, tokenizer)
    handle = ModelHandle(model, tokenizer, path)
    settings, seed = config.calibration, config.calibration_seed
    inputs = BuildInputs(
        tokenizer=tokenizer,
        model_fingerprint=dense_fingerprint,
        settings=settings,
        seed=seed,
        data_dir=config.data_dir,
        cache_dir=config.execution.cache_dir,
        questions=QuestionStream(settings.prompts, seed, config.data_dir),
        renderer=PromptRenderer.of(tokenizer, settings),
        backend=lambda: _backend(handle, config),  # the traces show their own tokens/s bar
        backend_identity=backend_identity(config.execution),
        rebuild=config.execution.rebuild,
    )
    provider = CalibrationProvider(inputs)
    return DenseModel(reference, path, model, tokenizer, dense_fingerprint, provider, tokenizer_state(tokenizer))

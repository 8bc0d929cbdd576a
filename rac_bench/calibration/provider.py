"""Builds calibration sets by source name, once per run, from the dense model.

`prompts`: the calibration questions rendered with the chat template.
`traces`: the same prompts followed by the dense model's own sampled chain of thought (RAC).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from rac_bench.backends.base import SamplingSettings
from rac_bench.backends.hf import HFBackend
from rac_bench.calibration.prompts import prompt_sequences
from rac_bench.calibration.traces import generate_traces, trace_sequences, traces_fingerprint
from rac_bench.errors import CalibrationError

log = logging.getLogger(__name__)
SOURCES = ("prompts", "traces")


class CalibrationProvider:
    def __init__(
        self,
        dense_model,
        tokenizer,
        questions: list[str],
        trace_settings: SamplingSettings,
        model_fingerprint: str,
        cache_dir: Path,
        batch_size: int = 64,
        progress: bool = True,
    ):
        if not questions:
            raise CalibrationError("the calibration prompt set is empty; give at least one calibration question")
        self.dense_model = dense_model
        self.tokenizer = tokenizer
        self.questions = questions
        self.trace_settings = trace_settings
        self.model_fingerprint = model_fingerprint
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self._built: dict[str, list[torch.Tensor]] = {}

    def __call__(self, source: str) -> list[torch.Tensor]:
        if source not in self._built:
            started = time.perf_counter()
            self._built[source] = self._build(source)
            self.seconds[source] = time.perf_counter() - started
            log.info(
                "calibration %s: %d sequences, %d tokens",
                source,
                len(self._built[source]),
                sum(len(s) for s in self._built[source]),
            )
        return self._built[source]

    def trace_path(self) -> Path:
        key = traces_fingerprint(self.model_fingerprint, self.questions, self.trace_settings)
        return self.cache_dir / "traces" / f"{key}.jsonl"

    def _build(self, source: str) -> list[torch.Tensor]:
        if source == "prompts":
            return prompt_sequences(self.tokenizer, self.questions)
        if source == "traces":
            backend = HFBackend(self.dense_model, self.tokenizer, self.batch_size, self.progress)
            records = generate_traces(backend, self.tokenizer, self.questions, self.trace_settings, self.trace_path())
            return trace_sequences(records)
        raise CalibrationError(f"unknown calibration source {source!r}; available: {', '.join(SOURCES)}")

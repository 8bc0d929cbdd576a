"""Builds calibration sets by source name (see `calibration.sources`), once per run, from the dense model,
and caps each at the run's token budget."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rac_bench.backends.base import SamplingSettings
from rac_bench.backends.hf import HFBackend
from rac_bench.calibration.prompts import prompt_sequences
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import ACCEPTED, trace_file_path
from rac_bench.calibration.text import DEFAULT_CORPUS, TextCorpus, text_sequences
from rac_bench.calibration.trace_file import read_trace_file
from rac_bench.calibration.traces import generate_traces, trace_sequences, traces_fingerprint
from rac_bench.errors import CalibrationError

log = logging.getLogger(__name__)


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
        text: TextCorpus = TextCorpus(DEFAULT_CORPUS),
        token_budget: int | None = None,
        device: str | None = None,
    ):
        if not questions:
            raise CalibrationError("the calibration prompt set is empty; give at least one calibration question")
        self.dense_model = dense_model
        self.device = device  # where traces are generated; None: the dense model's device
        self.tokenizer = tokenizer
        self.questions = questions
        self.trace_settings = trace_settings
        self.model_fingerprint = model_fingerprint
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.progress = progress
        self.text = text
        self.token_budget = token_budget
        self.seconds: dict[str, float] = {}
        self._built: dict[str, CalibrationSet] = {}

    def __call__(self, source: str) -> CalibrationSet:
        if source not in self._built:
            started = time.perf_counter()
            built = self._build(source).within_budget(self.token_budget)
            if built.tokens == 0:
                raise CalibrationError(
                    f"calibration source {source} gave no tokens; give non-empty sequences and a positive "
                    "calibration_tokens"
                )
            self._built[source] = built
            self.seconds[source] = time.perf_counter() - started
            log.info("calibration %s: %d sequences, %d tokens", source, len(built), built.tokens)
        return self._built[source]

    def trace_path(self) -> Path:
        key = traces_fingerprint(self.model_fingerprint, self.questions, self.trace_settings)
        return self.cache_dir / "traces" / f"{key}.jsonl"

    def _build(self, source: str) -> CalibrationSet:
        if source == "prompts":
            return CalibrationSet.prompts_only(prompt_sequences(self.tokenizer, self.questions))
        if source == "text":
            return CalibrationSet.prompts_only(text_sequences(self.tokenizer, self.text))
        if source == "traces":
            backend = HFBackend(self.dense_model, self.tokenizer, self.batch_size, self.progress, self.device)
            try:
                records = generate_traces(
                    backend, self.tokenizer, self.questions, self.trace_settings, self.trace_path()
                )
            finally:
                backend.close()  # the dense model goes back to the CPU, where variants are copied from it
            return CalibrationSet(trace_sequences(records), [len(r["prompt_ids"]) for r in records])
        path = trace_file_path(source)
        if path is not None:
            return read_trace_file(path, self.tokenizer)
        raise CalibrationError(f"unknown calibration source {source!r}; accepted: {ACCEPTED}")

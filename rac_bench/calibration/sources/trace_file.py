"""Off-policy traces from a JSONL file (`traces:<path>`), e.g. a larger model's chains of thought.

Each line is either the project's own trace format, {"prompt_ids": [...], "generated_ids": [...]}, or text,
{"prompt": "...", "response": "..."}. A text prompt is rendered as written (no instruction is added) through the
chat template, with the calibration settings' system prompt, chat template and prompt truncation and the
generation prompt; the response is tokenized as it is and appended: the assistant turn is never rendered
through the template, which for DeepSeek-R1 would strip the chain of thought.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_prefixed_source
from rac_bench.calibration.sources.prompts import PromptRenderer, rendering_fingerprint
from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.input_files import json_lines

log = logging.getLogger(__name__)

FORMATS = "JSON lines with lists 'prompt_ids' and 'generated_ids', or strings 'prompt' and 'response'"


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ids(record: dict, renderer: PromptRenderer) -> tuple[list[int], list[int]]:
    if "prompt_ids" in record or "generated_ids" in record:
        prompt, generated = record["prompt_ids"], record["generated_ids"]
        if not all(isinstance(part, list) and all(_is_id(i) for i in part) for part in (prompt, generated)):
            raise TypeError
        return prompt, generated
    prompt, response = record["prompt"], record["response"]
    if not isinstance(prompt, str) or not isinstance(response, str):
        raise TypeError
    return renderer.ids(prompt), renderer.ids_of(response)


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_trace_file(path: Path, renderer: PromptRenderer) -> CalibrationSet:
    """Every trace of `path`, with token ids checked against the tokenizer's vocabulary: an id the model has
    no embedding for would fail deep inside pruning."""
    import torch

    sequences, prompt_lengths, vocabulary = [], [], len(renderer.tokenizer)
    for line_number, record in json_lines(path, CalibrationError, "trace file"):
        try:
            if not isinstance(record, dict):
                raise TypeError
            prompt, generated = _ids(record, renderer)
        except (KeyError, TypeError):
            raise CalibrationError(f"{path}:{line_number} is not a trace record; expected {FORMATS}") from None
        outside = next((i for i in prompt + generated if not 0 <= i < vocabulary), None)
        if outside is not None:
            raise CalibrationError(
                f"{path}:{line_number} has token id {outside}, outside the model's vocabulary [0, {vocabulary}); "
                "were the traces tokenized for another model?"
            )
        sequences.append(torch.tensor(prompt + generated, dtype=torch.long))
        prompt_lengths.append(len(prompt))
    if not sequences:
        raise CalibrationError(f"{path} holds no traces; expected {FORMATS}")
    return CalibrationSet(sequences, prompt_lengths)


@dataclass(frozen=True)
class TraceFileSource:
    path: Path
    generated_tokens: bool = True
    samples_with_backend: bool = False

    @property
    def name(self) -> str:
        return f"{PREFIX}:{self.path}"

    def check(self, settings) -> None:
        pass  # checked when the spec is parsed

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        source = {"source": f"{PREFIX}:<file>", "tokens": settings.tokens, "file_sha256": file_hash(self.path)}
        return {**source, **rendering_fingerprint(settings)}  # how text prompts are rendered

    def estimate_tokens(self, settings) -> int:
        return settings.tokens  # at most: a file shorter than the budget is used whole

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        """The file's traces in order; all of them, with a warning, when they hold fewer tokens than the budget."""
        calibration = read_trace_file(self.path, replace(inputs.renderer, instruction=None))
        if calibration.tokens < inputs.settings.tokens:
            log.warning(
                "trace file %s holds %d tokens, fewer than the calibration budget of %d: all of them are used",
                self.path,
                calibration.tokens,
                inputs.settings.tokens,
            )
        return calibration


PREFIX = "traces"


def _trace_file(argument: str) -> TraceFileSource:
    path = Path(argument).expanduser()
    if not path.is_file():
        raise ConfigError(f"trace file {path} does not exist; give {PREFIX}:<path to a .jsonl file>")
    return TraceFileSource(path)


register_prefixed_source(PREFIX, _trace_file, f"{PREFIX}:<path to a .jsonl file>")

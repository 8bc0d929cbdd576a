"""On-policy traces, RAC's calibration data: each calibration prompt followed by the dense model's own
sampled chain of thought and answer.

The sequence is the rendered prompt's token ids followed by the engine's generated ids, never a re-render
of the assistant turn through the chat template: DeepSeek-R1's template strips `<think>` content from
assistant turns and would silently turn RAC back into prompt-only calibration. Traces are generated once
and cached as JSONL under a fingerprint of model, prompts and sampling settings.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from rac_bench.backends.base import GenerationBackend, SamplingSettings
from rac_bench.calibration.prompts import render_prompt
from rac_bench.errors import CalibrationError
from rac_bench.fingerprint import fingerprint

log = logging.getLogger(__name__)


def traces_fingerprint(model_fingerprint: str, questions: list[str], settings: SamplingSettings) -> str:
    return fingerprint({"model": model_fingerprint, "questions": questions, "sampling": asdict(settings)})


def load_traces(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
                if not all(isinstance(record[key], list) for key in ("prompt_ids", "generated_ids")):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CalibrationError(
                    f"{path}:{line_number} is not a trace record; expected JSON lines with lists "
                    "'prompt_ids' and 'generated_ids'"
                ) from None
            records.append(record)
    if not records:
        raise CalibrationError(f"{path} holds no traces; expected JSON lines with 'prompt_ids' and 'generated_ids'")
    return records


def generate_traces(
    backend: GenerationBackend, tokenizer, questions: list[str], settings: SamplingSettings, path: Path
) -> list[dict]:
    """Generate (or read back from `path`) one trace per question."""
    if path.exists():
        log.info("reusing cached traces %s", path)
        return load_traces(path)
    prompts = [render_prompt(tokenizer, q) for q in questions]
    generations = backend.generate(prompts, settings)
    records = [
        {
            "question": question,
            "prompt_ids": tokenizer(prompt, add_special_tokens=False).input_ids,
            "generated_ids": list(generation.token_ids),
            "text": generation.text,
            "finish_reason": generation.finish_reason,
        }
        for question, prompt, generation in zip(questions, prompts, generations)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    os.replace(handle.name, path)
    return records


def trace_sequences(records: list[dict]) -> list[torch.Tensor]:
    return [torch.tensor(record["prompt_ids"] + record["generated_ids"]) for record in records]

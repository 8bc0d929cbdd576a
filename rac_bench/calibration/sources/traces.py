"""On-policy traces (`traces`), RAC's calibration data: each calibration prompt followed by the dense model's
own sampled chain of thought and answer, generated through the run's backend (vLLM when the run uses it).

The sequence is the rendered prompt's token ids followed by the engine's generated ids, never a re-render
of the assistant turn through the chat template: DeepSeek-R1's template strips `<think>` content from
assistant turns and would silently turn RAC back into prompt-only calibration. Traces are generated once
and cached as JSONL under a fingerprint of everything that changes them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from rac_bench.backends.base import GenerationBackend, SamplingSettings
from rac_bench.calibration.sources.prompts import prompt_set_fingerprint, render_prompt
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source
from rac_bench.errors import CalibrationError
from rac_bench.files import write_atomic
from rac_bench.fingerprint import fingerprint

log = logging.getLogger(__name__)
RECORD_FORMAT = "JSON lines with lists 'prompt_ids' and 'generated_ids'"


def sampling_settings(settings, seed: int) -> SamplingSettings:
    traces = settings.traces
    return SamplingSettings(traces.temperature, traces.top_p, traces.max_new_tokens, seed)


def trace_cache_path(inputs: BuildInputs) -> Path:
    key = fingerprint(
        {
            "model": inputs.model_fingerprint,
            "questions": inputs.questions(),
            "sampling": asdict(sampling_settings(inputs.settings, inputs.seed)),
            "backend": inputs.backend_identity,  # batch composition and engine change sampled tokens
        }
    )
    return inputs.cache_dir / "traces" / f"{key}.jsonl"


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
                    f"{path}:{line_number} is not a trace record; expected {RECORD_FORMAT}"
                ) from None
            records.append(record)
    if not records:
        raise CalibrationError(f"{path} holds no traces; expected {RECORD_FORMAT}")
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
    write_atomic(path, "".join(json.dumps(record) + "\n" for record in records))
    return records


def trace_sequences(records: list[dict]) -> CalibrationSet:
    return CalibrationSet(
        [torch.tensor(r["prompt_ids"] + r["generated_ids"]) for r in records], [len(r["prompt_ids"]) for r in records]
    )


@dataclass(frozen=True)
class TraceSource:
    name: str = "traces"
    generated_tokens: bool = True

    def check(self, settings) -> None:
        pass

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        traces = settings.traces
        return {
            "source": self.name,
            "tokens": settings.tokens,
            **prompt_set_fingerprint(settings, seed, data_dir),
            "temperature": traces.temperature,
            "top_p": traces.top_p,
            "max_new_tokens": traces.max_new_tokens,
        }

    def estimate_tokens(self, settings, prompt_tokens: int) -> int:
        return settings.samples * (settings.traces.max_new_tokens + prompt_tokens)

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        backend = inputs.backend()
        try:
            records = generate_traces(
                backend,
                inputs.tokenizer,
                inputs.questions(),
                sampling_settings(inputs.settings, inputs.seed),
                trace_cache_path(inputs),
            )
        finally:
            backend.close()  # frees the engine; an HF model goes back to the CPU, where variants are copied from
        return trace_sequences(records)


register_source(TraceSource())

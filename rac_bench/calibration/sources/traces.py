"""On-policy traces (`traces`), RAC's calibration data: calibration prompts followed by the dense model's own
sampled chain of thought and answer, generated through the run's backend (vLLM when the run uses it) until
prompt + generated tokens meet the token budget.

The sequence is the rendered prompt's token ids followed by the engine's generated ids, never a re-render of the
assistant turn through the chat template: DeepSeek-R1's template strips `<think>` content from assistant turns
and would silently turn RAC back into prompt-only calibration.

Traces are sampled to the budget, not past it: after a first chunk of FIRST_CHUNK prompts (fewer when fewer would
reach the budget even if every trace ran to its token limit), each chunk holds as many prompts as the tokens still
needed take at the mean trace length seen so far (up to the backend's batch), and no trace is given more new tokens
than are still needed (the budget cuts it there anyway). Each chunk has its own seed (from its first prompt's
position) and is cached, named by where it starts, how many prompts it holds and its token limit, under a
fingerprint of everything that changes the traces. Chunk sizes depend only on the cached chunks before them, so a
run killed while sampling reuses every finished chunk and ends with the same traces as an uninterrupted one. Beside
the chunks, `manifest.json` records the recipe and what it gave.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from tqdm.auto import tqdm

from rac_bench import strict_json
from rac_bench.backends.base import SamplingSettings
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source
from rac_bench.calibration.sources.prompts import prompt_set_fingerprint, too_few
from rac_bench.errors import CalibrationError
from rac_bench.files import write_atomic
from rac_bench.fingerprint import fingerprint
from rac_bench.input_files import json_lines

log = logging.getLogger(__name__)
RECORD_FORMAT = "JSON lines with lists 'prompt_ids' and 'generated_ids'"
FIRST_CHUNK = 8  # prompts; later chunks are sized from the lengths it shows
LARGEST_CHUNK = 256  # prompts per chunk at most (on HF, at most one batch)


def recipe(settings) -> dict:
    """Every sampling setting of the traces (config `calibration.traces`)."""
    return asdict(settings.traces)


def next_chunk(records: list[dict], needed: int, per_prompt: int, largest: int, first: int) -> int:
    """Prompts in the next chunk: `first` (first_chunk), then as many as `needed` tokens take at the mean length
    (prompt + generated) of the traces so far."""
    if not records:
        return min(first, largest)
    mean = sum(len(r["prompt_ids"]) + len(r["generated_ids"]) for r in records) / len(records)
    return max(1, min(largest, math.ceil(needed / (mean * per_prompt))))


def largest_chunk(inputs: BuildInputs) -> int:
    return min(LARGEST_CHUNK, inputs.backend_identity.get("batch_size", LARGEST_CHUNK))


def trace_cache_dir(inputs: BuildInputs, prompts: dict | None = None) -> Path:
    """`prompts`: the prompt set's fingerprint when the caller has it (it hashes a local prompt file)."""
    if prompts is None:
        prompts = prompt_set_fingerprint(inputs.settings, inputs.seed, inputs.data_dir)
    key = fingerprint(
        {
            "model": inputs.model_fingerprint,
            "prompts": prompts,
            "sampling": recipe(inputs.settings),
            "backend": inputs.backend_identity,  # batch composition and engine change sampled tokens
            "largest_chunk": largest_chunk(inputs),
        }
    )
    return inputs.cache_dir / "traces" / key


def load_traces(path: Path) -> list[dict]:
    records = []
    for line_number, record in json_lines(path, CalibrationError, "trace cache file"):
        if not (
            isinstance(record, dict) and all(isinstance(record.get(k), list) for k in ("prompt_ids", "generated_ids"))
        ):
            raise CalibrationError(f"{path}:{line_number} is not a trace record; expected {RECORD_FORMAT}")
        records.append(record)
    if not records:
        raise CalibrationError(f"{path} holds no traces; expected {RECORD_FORMAT}")
    return records


def _sampling(settings, seed: int, start: int, token_limit: int) -> SamplingSettings:
    traces = settings.traces
    return SamplingSettings(traces.temperature, traces.top_p, token_limit, seed * 1_000_003 + start, top_k=traces.top_k)


def _generate_chunk(backend, renderer, questions: list[str], settings: SamplingSettings, per_prompt: int) -> list[dict]:
    """Each question's `per_prompt` traces, in question order."""
    asked = [question for question in questions for _ in range(per_prompt)]
    prompts = [renderer.text(question) for question in asked]
    generations = backend.generate(prompts, settings)
    return [
        {
            "question": question,
            "prompt_ids": renderer.ids_of(prompt),
            "generated_ids": list(generation.token_ids),
            "text": generation.text,
            "finish_reason": generation.finish_reason,
        }
        for question, prompt, generation in zip(asked, prompts, generations)
    ]


def _chunk(inputs: BuildInputs, directory: Path, start: int, size: int, needed: int, engine: dict) -> list[dict]:
    """The traces of the `size` prompts from position `start`, cached or sampled now (the engine, started on the
    first chunk that is missing, is kept in `engine` for the next)."""
    questions = list(islice(iter(inputs.questions), start, start + size))
    if not questions:
        return []
    token_limit = min(inputs.settings.traces.max_new_tokens, needed)
    path = directory / f"chunk-{start:06d}-{len(questions):04d}-{token_limit}.jsonl"
    if inputs.rebuild or not path.exists():
        engine["backend"] = engine.get("backend") or inputs.backend()
        sampling = _sampling(inputs.settings, inputs.seed, start, token_limit)
        records = _generate_chunk(
            engine["backend"], inputs.renderer, questions, sampling, inputs.settings.traces.per_prompt
        )
        write_atomic(path, "".join(strict_json.dumps(record) + "\n" for record in records))
    return load_traces(path)


def first_chunk(inputs: BuildInputs) -> int:
    """FIRST_CHUNK prompts, or fewer when fewer reach the budget even if every trace runs to its token limit; fails
    before sampling when even every prompt's traces run to the limit could not reach it."""
    budget, traces = inputs.settings.tokens, inputs.settings.traces
    first, most = None, 0
    for count, question in enumerate(inputs.questions, start=1):
        most += (len(inputs.renderer.ids(question)) + traces.max_new_tokens) * traces.per_prompt
        if first is None and (most >= budget or count == FIRST_CHUNK):
            first = count
        if most >= budget:
            return first
    raise too_few(inputs.settings.prompts, most, budget, "at most ")


def sample_traces(inputs: BuildInputs, directory: Path) -> list[dict]:
    """Trace records until prompt + generated tokens reach the budget (the last chunk may go past it), with
    their chunks cached in `directory`."""
    first = first_chunk(inputs)
    budget, per_prompt = inputs.settings.tokens, inputs.settings.traces.per_prompt
    directory.mkdir(parents=True, exist_ok=True)
    records, tokens, start, engine = [], 0, 0, {}
    bar = tqdm(total=budget, unit="tok", unit_scale=True, desc="RAC traces", disable=not inputs.progress)
    try:
        while tokens < budget:
            size = next_chunk(records, budget - tokens, per_prompt, largest_chunk(inputs), first)
            chunk = _chunk(inputs, directory, start, size, budget - tokens, engine)
            if not chunk:
                break
            records += chunk
            added = sum(len(r["prompt_ids"]) + len(r["generated_ids"]) for r in chunk)
            tokens, start = tokens + added, start + size
            bar.update(min(added, budget - bar.n))
    finally:
        if engine.get("backend") is not None:
            engine["backend"].close()  # frees the device (vLLM keeps its engine for dense); HF goes back to the CPU
        bar.close()
    if tokens < budget:
        raise too_few(inputs.settings.prompts, tokens, budget)
    return records


def trace_sequences(records: list[dict], budget: int | None = None) -> CalibrationSet:
    """The traces cut at the budget (the last one short), with facts that count the traces kept, not those sampled
    past the budget."""
    import torch

    kept, tokens = [], 0
    for record in records:
        if budget is not None and tokens >= budget:
            break
        kept.append(record)
        tokens += len(record["prompt_ids"]) + len(record["generated_ids"])
    facts = {
        "traces": len(kept),
        "prompts": len({r["question"] for r in kept if "question" in r}),
        "hit_token_limit": sum(r.get("finish_reason") == "length" for r in kept),
        "sampled_traces": len(records),
        "sampled_generated_tokens": sum(len(r["generated_ids"]) for r in records),
    }
    sequences = [torch.tensor(r["prompt_ids"] + r["generated_ids"]) for r in kept]
    return CalibrationSet(sequences, [len(r["prompt_ids"]) for r in kept], facts).within_budget(budget)


@dataclass(frozen=True)
class TraceSource:
    name: str = "traces"
    generated_tokens: bool = True
    samples_with_backend: bool = True  # its tokens depend on the generation engine and batch
    draws_prompt_set: bool = True  # sampled from calibration.prompts

    def check(self, settings) -> None:
        pass

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        return {
            "source": self.name,
            "tokens": settings.tokens,
            **prompt_set_fingerprint(settings, seed, data_dir),
            **recipe(settings),
        }

    def estimate_tokens(self, settings) -> int:
        return settings.tokens

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        prompts = prompt_set_fingerprint(inputs.settings, inputs.seed, inputs.data_dir)
        directory = trace_cache_dir(inputs, prompts)
        calibration = trace_sequences(sample_traces(inputs, directory), inputs.settings.tokens)
        manifest = {
            "recipe": {**prompts, **recipe(inputs.settings)},
            "backend": inputs.backend_identity,
            "budget": inputs.settings.tokens,
            **calibration.facts,
            "prompt_tokens": calibration.prompt_tokens,
            "generated_tokens": calibration.tokens - calibration.prompt_tokens,
        }
        write_atomic(directory / "manifest.json", strict_json.dumps(manifest, indent=2))
        return calibration


register_source(TraceSource())

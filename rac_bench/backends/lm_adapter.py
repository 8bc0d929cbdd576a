"""The lm-eval LM that `rac-bench run` hands to `lm_eval.evaluator.evaluate`.

It forwards generation requests to a rac-bench backend and keeps, for every sample, what lm-eval itself
throws away: the engine's token ids, thinking/answer token counts, finish reason and timing. The records are
keyed by (task, doc_id, sample_index), sample_index counting lm-eval's repeats of one request.

Requests are generated in fixed chunks (longest prompt first, `chunk_size` at a time, each chunk with its own
seed), and each finished chunk can be saved to a GenerationLog. A rerun after an interruption takes the
saved chunks back and generates only the others, in the same chunks with the same seeds, so its results
equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from lm_eval.api.model import LM
from tqdm.auto import tqdm

from rac_bench.backends.base import Generation, GenerationBackend, SamplingSettings


@dataclass(frozen=True)
class SampleRecord:
    task: str
    doc_id: int
    sample_index: int
    prompt: str
    generation: Generation


class GenerationLog(Protocol):
    """Where finished chunks of one cell's generations are kept until the cell is done (the results store)."""

    def saved(self) -> dict[tuple[int, int], tuple[str, dict]]: ...

    def save(self, rows: list[tuple[int, int, str, dict]]) -> None: ...


class RacBenchLM(LM):
    def __init__(
        self,
        backend: GenerationBackend,
        tokenizer,
        seed: int = 0,
        max_new_tokens: int | None = None,
        generation_log: GenerationLog | None = None,
        progress: bool = True,
    ):
        super().__init__()
        self.backend = backend
        self.tokenizer = tokenizer
        self.seed = seed
        self.max_new_tokens = max_new_tokens  # overrides the task's max_gen_toks when set
        self.generation_log = generation_log
        self.chunk_size = backend.chunk_size
        self.resumed_samples = 0
        self.progress = progress
        self.records: list[SampleRecord] = []
        self.generate_seconds = 0.0  # time spent inside the backend's generate calls
        self.generated_tokens = 0  # tokens those calls generated (resumed chunks not included)

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "rac-bench")).replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return getattr(self.tokenizer, "chat_template", None) or ""

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
        )

    def settings_for(self, gen_kwargs: dict) -> SamplingSettings:
        """lm-eval's generation kwargs as backend settings."""
        do_sample = gen_kwargs.get("do_sample", False)
        temperature = float(gen_kwargs.get("temperature", 0.0)) if do_sample is not False else 0.0
        if do_sample and temperature == 0.0:
            temperature = 1.0
        until = gen_kwargs.get("until") or []
        return SamplingSettings(
            temperature=temperature,
            top_p=float(gen_kwargs.get("top_p", 1.0)),
            max_new_tokens=int(self.max_new_tokens or gen_kwargs.get("max_gen_toks", 256)),
            seed=self.seed,
            stop=tuple([until] if isinstance(until, str) else until),
        )

    def generate_until(self, requests) -> list[str]:
        sample_indices, seen = [], defaultdict(int)
        for request in requests:
            identity = (request.task_name, request.doc_id)
            sample_indices.append(seen[identity])
            seen[identity] += 1
        saved = self.generation_log.saved() if self.generation_log else {}
        groups: dict[str, list[int]] = defaultdict(list)
        for position, request in enumerate(requests):
            groups[json.dumps(request.args[1], sort_keys=True, default=str)].append(position)
        outputs: list[str | None] = [None] * len(requests)
        progress = tqdm(total=len(requests), desc="generating", leave=False, disable=not self.progress)
        for key, positions in groups.items():
            settings = self.settings_for(json.loads(key))
            order = sorted(positions, key=lambda p: -len(requests[p].args[0]))  # stable: a fixed chunking
            size = self.backend.greedy_chunk_size if settings.greedy else self.chunk_size
            for chunk_index, start in enumerate(range(0, len(order), size)):
                chunk = order[start : start + size]
                keys = [(requests[p].doc_id, sample_indices[p]) for p in chunk]
                prompts = [requests[p].args[0] for p in chunk]
                stored = [saved.get(k) for k in keys]
                if all(entry is not None and entry[0] == prompt for entry, prompt in zip(stored, prompts)):
                    generations = [_generation(entry[1]) for entry in stored]
                    self.resumed_samples += len(chunk)
                    progress.update(len(chunk))
                else:
                    chunk_settings = replace(settings, seed=settings.seed * 1_000_003 + chunk_index)
                    started = time.perf_counter()
                    generations = self.backend.generate(prompts, chunk_settings, progress.update)  # as they finish
                    self.generate_seconds += time.perf_counter() - started
                    self.generated_tokens += sum(g.generated_tokens for g in generations)
                    if self.generation_log:
                        self.generation_log.save(
                            [(*k, prompt, asdict(g)) for k, prompt, g in zip(keys, prompts, generations)]
                        )
                for position, (doc_id, sample_index), prompt, generation in zip(chunk, keys, prompts, generations):
                    self.records.append(
                        SampleRecord(requests[position].task_name, doc_id, sample_index, prompt, generation)
                    )
                    outputs[position] = generation.text
        progress.close()
        return outputs

    def loglikelihood(self, requests):
        raise NotImplementedError("rac-bench evaluates reasoning by generation; loglikelihood tasks are not supported")

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError("rac-bench evaluates reasoning by generation; loglikelihood tasks are not supported")


def _generation(saved: dict) -> Generation:
    return Generation(**{**saved, "token_ids": tuple(saved["token_ids"])})

"""Hugging Face generation: batched, left-padded, on an in-memory model (pruned or dense), through rac-bench's decode
loop (rac_bench/backends/decode.py), or through transformers' `generate` where stop strings are asked for."""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from tqdm.auto import tqdm

from rac_bench.backends.base import Generation, SamplingSettings, count_thinking_tokens
from rac_bench.backends.decode import decode


class HFBackend:
    name = "hf"
    startup_seconds = 0.0

    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 64,
        progress: bool = True,
        device: str | None = None,
        greedy_batch_size: int | None = None,
    ):
        """`device`: where to generate; the model is moved there and back to where it was by close(). Sampled
        requests run in batches of `batch_size` (each batch its own seed), greedy ones in batches of
        `greedy_batch_size` (default: `batch_size`): a small model's whole task in one batch."""
        self.home = next(model.parameters()).device
        self.model = model.eval().to(device or self.home)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.greedy_batch_size = greedy_batch_size or batch_size
        # lm_adapter's resume units: one batch, so a resumed chunk is the same batch
        self.chunk_size, self.greedy_chunk_size = batch_size, self.greedy_batch_size
        self.progress = progress
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def close(self) -> None:
        self.model.to(self.home)

    @torch.no_grad()
    def generate(self, prompts: list[str], settings: SamplingSettings, finished=None) -> list[Generation]:
        # Longest first: batches hold similar lengths and the slowest batch shows up early.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        size = self.greedy_batch_size if settings.greedy else self.batch_size
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        for batch_index, batch in enumerate(tqdm(batches, desc="generating", disable=not self.progress, leave=False)):
            for index, generation in zip(
                batch, self._generate_batch([prompts[i] for i in batch], settings, batch_index, finished)
            ):
                results[index] = generation
        return results

    def _generate_batch(
        self, prompts: list[str], settings: SamplingSettings, batch_index: int, finished=None
    ) -> list[Generation]:
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.model.device
        )
        eos_ids = self._eos_ids()
        started = time.perf_counter()
        finished_at = [None] * len(prompts)  # when each row's last token came (the decode loop knows)
        if settings.stop:
            rows = self._generate(encoded, settings, batch_index)
            if finished is not None:
                finished(len(rows))
        else:
            batch_settings = replace(settings, seed=settings.seed * 100_003 + batch_index)  # each batch its own draws
            rows = decode(
                self.model, encoded.input_ids, encoded.attention_mask, batch_settings, eos_ids, finished, finished_at
            )
        seconds = time.perf_counter() - started
        generations = []
        for row, row_finished in zip(rows, finished_at):
            token_ids, finish_reason = self._cut(row, eos_ids, settings)
            text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
            for stop in settings.stop:
                text = text.split(stop)[0]
            generations.append(
                Generation(
                    text=text,
                    token_ids=tuple(token_ids),
                    thinking_tokens=count_thinking_tokens(token_ids, self.tokenizer),
                    finish_reason=finish_reason,
                    seconds=row_finished - started if row_finished is not None else seconds,
                )
            )
        return generations

    def _generate(self, encoded, settings: SamplingSettings, batch_index: int) -> list[list[int]]:
        """transformers' generate, for stop strings (the decode loop stops at end-of-sequence tokens only)."""
        options = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
        if settings.greedy:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            options.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
            torch.manual_seed(settings.seed * 100_003 + batch_index)
        options.update(stop_strings=list(settings.stop), tokenizer=self.tokenizer)
        output = self.model.generate(**encoded, **options)
        return output[:, encoded.input_ids.shape[1] :].tolist()

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        return ids | {self.tokenizer.eos_token_id}

    def _cut(self, row: list[int], eos_ids: set[int], settings: SamplingSettings) -> tuple[list[int], str]:
        """The tokens the engine generated for one row, through the first end-of-sequence token (padding
        after it dropped), and why it stopped."""
        for position, token in enumerate(row):
            if token in eos_ids:
                return row[: position + 1], "stop"
        if settings.stop and any(stop in self.tokenizer.decode(row) for stop in settings.stop):
            return row, "stop"
        return row, "length" if len(row) >= settings.max_new_tokens else "stop"

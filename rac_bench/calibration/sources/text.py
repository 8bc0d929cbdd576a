"""Text calibration (`text`), the classic source of SparseGPT and Wanda: random fixed-length token windows from
a corpus (windows of 2,048 tokens from C4 by default) until the token budget is met. The corpus is a local .txt
file, a local .jsonl file with a "text" field per line, or a Hugging Face dataset id read in streaming mode (its
first documents). Documents are tokenized, joined with the end-of-sequence token into one stream, and windows
start at seeded random offsets.

With `calibration.text_chat_template`, each document is instead rendered as a user turn through the chat template
(with the calibration system prompt, if any) and is one sequence, cut at `text_length` tokens, in corpus order:
how the RAC authors' C4 baseline feeds C4 (github.com/RyanLucas3/RAC, open-r1-main/README.md "C4 pruning" with
`--dataset_prompt_column text`, and src/open_r1/grpo.py `to_conversation`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rac_bench.calibration.corpus import C4_FILES, DEFAULT_CORPUS
from rac_bench.calibration.jsonl import read_string_field
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source
from rac_bench.calibration.sources.prompts import render_until, rendering_fingerprint
from rac_bench.errors import CalibrationError, ConfigError, first_line
from rac_bench.input_files import read_text

if TYPE_CHECKING:  # imported where used: building a plan stays torch-free
    import torch

log = logging.getLogger(__name__)

LOCAL_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class TextCorpus:
    source: str  # a local .txt / .jsonl path or a hub dataset id
    windows: int
    length: int = 2048
    seed: int = 0

    @classmethod
    def of(cls, settings, seed: int) -> TextCorpus:
        """The corpus cut into as many windows as the token budget needs (the last one is cut short later)."""
        return cls(settings.text, -(-settings.tokens // settings.text_length), settings.text_length, seed)

    @property
    def is_local(self) -> bool:
        return Path(self.source).expanduser().exists()

    def fingerprint(self) -> dict:
        """What identifies the windows: a local file by its content hash, a hub dataset by its id."""
        if self.is_local:
            corpus = hashlib.sha256(Path(self.source).expanduser().read_bytes()).hexdigest()
        else:
            corpus = self.source
        return {"corpus": corpus, "windows": self.windows, "length": self.length, "seed": self.seed}


def check_corpus_reference(source: str) -> None:
    """Fail early on a local file that is missing or of an unknown kind; a hub id is only checked when read."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_file() or path.suffix not in LOCAL_SUFFIXES:
            raise ConfigError(f"calibration text {source} must be a .txt or .jsonl file (or a hub dataset id)")
        return
    if path.suffix in LOCAL_SUFFIXES or source.startswith((".", "/", "~")) or "/" not in source:
        raise ConfigError(
            f"calibration text {source!r} is neither an existing .txt/.jsonl file nor a hub dataset id like allenai/c4"
        )


def _local_documents(path: Path) -> list[str]:
    if path.suffix == ".txt":
        return [read_text(path, CalibrationError, "calibration text")]
    return read_string_field(path, "text")


def _hub_documents(source: str, tokens_wanted: int):
    """Stream documents until about twice the tokens the windows need have been read."""
    from datasets import load_dataset

    try:
        dataset = load_dataset(
            source, data_files=C4_FILES if source == DEFAULT_CORPUS else None, split="train", streaming=True
        )
        documents, tokens = [], 0
        for record in dataset:
            documents.append(record["text"])
            tokens += len(documents[-1]) // 4  # a cheap estimate; the windows are cut from real token ids
            if tokens >= 2 * tokens_wanted:
                break
    except Exception as error:  # datasets raises many types for a missing or unreachable dataset
        raise CalibrationError(f"cannot read calibration text {source}: {first_line(error)}") from None
    return documents


def _documents(corpus: TextCorpus) -> list[str]:
    if corpus.is_local:
        return _local_documents(Path(corpus.source).expanduser())
    return _hub_documents(corpus.source, corpus.windows * corpus.length)


def text_sequences(tokenizer, corpus: TextCorpus) -> list[torch.Tensor]:
    """`corpus.windows` windows of `corpus.length` token ids at seeded random offsets of the token stream."""
    import torch

    separator = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    stream: list[int] = []
    for document in _documents(corpus):
        if document.strip():
            stream.extend(tokenizer(document, add_special_tokens=False).input_ids + separator)
    if len(stream) < corpus.length:
        raise CalibrationError(
            f"calibration text {corpus.source} has {len(stream)} tokens, fewer than one window of "
            f"{corpus.length}; give a larger corpus or lower calibration.text_length"
        )
    ids = torch.tensor(stream)
    generator = torch.Generator().manual_seed(corpus.seed)
    starts = torch.randint(0, len(stream) - corpus.length + 1, (corpus.windows,), generator=generator)
    log.info("calibration text: %d windows of %d tokens from %d", corpus.windows, corpus.length, len(stream))
    return [ids[start : start + corpus.length].clone() for start in starts.tolist()]


def rendered_documents(renderer, corpus: TextCorpus, budget: int) -> list[torch.Tensor]:
    """Documents in corpus order, each rendered as a user turn and cut at `corpus.length` tokens, until `budget`."""
    documents = (document for document in _documents(corpus) if document.strip())
    sequences, tokens = render_until(renderer, documents, budget, corpus.length)
    if tokens < budget:
        raise CalibrationError(
            f"calibration text {corpus.source} gives only {tokens:,} tokens rendered as chat turns, fewer than the "
            f"budget of {budget:,}; give a larger corpus or lower calibration.tokens"
        )
    return sequences


@dataclass(frozen=True)
class TextSource:
    name: str = "text"
    generated_tokens: bool = False
    samples_with_backend: bool = False

    def check(self, settings) -> None:
        check_corpus_reference(settings.text)

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        fingerprint = {"source": self.name, "tokens": settings.tokens, **TextCorpus.of(settings, seed).fingerprint()}
        if settings.text_chat_template:
            fingerprint.update(chat=True, **rendering_fingerprint(settings))
        return fingerprint

    def estimate_tokens(self, settings) -> int:
        return settings.tokens

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        corpus = TextCorpus.of(inputs.settings, inputs.seed)
        if inputs.settings.text_chat_template:
            renderer = replace(inputs.renderer, instruction=None)  # a document is not a task question
            sequences = rendered_documents(renderer, corpus, inputs.settings.tokens)
            return CalibrationSet.prompts_only(sequences, {"documents": len(sequences)})
        return CalibrationSet.prompts_only(text_sequences(inputs.tokenizer, corpus), {"windows": corpus.windows})


register_source(TextSource())

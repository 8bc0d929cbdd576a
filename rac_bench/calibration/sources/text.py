"""The classic calibration source of SparseGPT and Wanda: random fixed-length token windows from a text
corpus (128 windows of 2048 tokens from C4 by default). The corpus is a local .txt file, a local .jsonl file
with a "text" field per line, or a Hugging Face dataset id read in streaming mode (its first documents).
Documents are tokenized, joined with the end-of-sequence token into one stream, and windows start at seeded
random offsets.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from rac_bench.calibration.jsonl import read_string_field
from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, register_source
from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.input_files import read_text

log = logging.getLogger(__name__)

DEFAULT_CORPUS = "allenai/c4"
# Only the first shard of C4's English training split is read, as in the SparseGPT and Wanda reference code.
_C4_FILES = {"train": "en/c4-train.00000-of-01024.json.gz"}
LOCAL_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class TextCorpus:
    source: str  # a local .txt / .jsonl path or a hub dataset id
    windows: int = 128
    length: int = 2048
    seed: int = 0

    @classmethod
    def of(cls, settings, seed: int) -> TextCorpus:
        return cls(settings.text, settings.text_windows, settings.text_length, seed)

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
            source, data_files=_C4_FILES if source == DEFAULT_CORPUS else None, split="train", streaming=True
        )
        documents, tokens = [], 0
        for record in dataset:
            documents.append(record["text"])
            tokens += len(documents[-1]) // 4  # a cheap estimate; the windows are cut from real token ids
            if tokens >= 2 * tokens_wanted:
                break
    except Exception as error:  # datasets raises many types for a missing or unreachable dataset
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CalibrationError(f"cannot read calibration text {source}: {first_line}") from None
    return documents


def text_sequences(tokenizer, corpus: TextCorpus) -> list[torch.Tensor]:
    """`corpus.windows` windows of `corpus.length` token ids at seeded random offsets of the token stream."""
    path = Path(corpus.source).expanduser()
    if corpus.is_local:
        documents = _local_documents(path)
    else:
        documents = _hub_documents(corpus.source, corpus.windows * corpus.length)
    separator = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    stream: list[int] = []
    for document in documents:
        if document.strip():
            stream.extend(tokenizer(document, add_special_tokens=False).input_ids + separator)
    if len(stream) < corpus.length:
        raise CalibrationError(
            f"calibration text {corpus.source} has {len(stream)} tokens, fewer than one window of "
            f"{corpus.length}; give a larger corpus or lower calibration_text_length"
        )
    ids = torch.tensor(stream)
    generator = torch.Generator().manual_seed(corpus.seed)
    starts = torch.randint(0, len(stream) - corpus.length + 1, (corpus.windows,), generator=generator)
    log.info("calibration text: %d windows of %d tokens from %d", corpus.windows, corpus.length, len(stream))
    return [ids[start : start + corpus.length].clone() for start in starts.tolist()]


@dataclass(frozen=True)
class TextSource:
    name: str = "text"
    generated_tokens: bool = False

    def check(self, settings) -> None:
        check_corpus_reference(settings.text)

    def fingerprint(self, settings, seed: int, data_dir) -> dict:
        return {"source": self.name, "tokens": settings.tokens, **TextCorpus.of(settings, seed).fingerprint()}

    def estimate_tokens(self, settings, prompt_tokens: int) -> int:
        return settings.text_windows * settings.text_length

    def build(self, inputs: BuildInputs) -> CalibrationSet:
        return CalibrationSet.prompts_only(
            text_sequences(inputs.tokenizer, TextCorpus.of(inputs.settings, inputs.seed))
        )


register_source(TextSource())

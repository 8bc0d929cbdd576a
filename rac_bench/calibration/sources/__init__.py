"""The registry of calibration sources, named after `@` in a method spec (`sparsegpt@text`):

`prompts`        the task's calibration prompts, rendered with the chat template
`traces`         the prompts followed by the dense model's own sampled chain of thought (RAC, on-policy)
`text`           random windows of a text corpus (C4 by default), the classic SparseGPT/Wanda calibration
`traces:<path>`  prompts and chains of thought from a JSONL file (off-policy, e.g. from a larger model)

A source is one object, in one module of this package, that checks its references, fingerprints its settings,
estimates its tokens for `--dry-run`, says whether it carries generated tokens, and builds its sequences. A new
source is one module that calls `register_source` (or `register_prefixed_source` for `name:<argument>`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from rac_bench.errors import ConfigError

if TYPE_CHECKING:
    from rac_bench.calibration.sequences import CalibrationSet


@dataclass
class BuildInputs:
    """What a source builds from: the dense model's tokenizer and fingerprint, the run's calibration settings (with
    `settings.tokens`, the budget every source meets), the prompt set and how its prompts are rendered, the
    backend that samples traces, and where to cache."""

    tokenizer: object
    model_fingerprint: str
    settings: object  # rac_bench.config.CalibrationSettings
    seed: int  # the calibration seed: the prompt set's order, text windows, trace sampling
    data_dir: Path | None
    cache_dir: Path
    questions: object  # rac_bench.calibration.prompt_sets.QuestionStream: read as far as the budget needs
    renderer: object  # rac_bench.calibration.sources.prompts.PromptRenderer
    backend: Callable[[], object]  # a generation backend on the dense model (the run's: hf or vllm)
    backend_identity: dict  # what about the backend can change sampled tokens (name, batch size)
    progress: bool = True
    rebuild: bool = False  # sample traces again instead of reading cached chunks


class CalibrationSource(Protocol):
    name: str  # as written after @: the label in fingerprints and reports
    generated_tokens: bool  # sequences carry a generated chain of thought after the prompt
    samples_with_backend: bool  # its tokens are sampled by the run's backend (so the backend is fingerprinted)
    # optional, False when absent: `draws_prompt_set`, it reads calibration.prompts (checked before a run writes)

    def check(self, settings) -> None:
        """Fail early, before any work, on a reference that cannot be used (a missing file, ...)."""

    def fingerprint(self, settings, seed: int, data_dir: Path | None) -> dict:
        """Everything that decides the source's tokens; a file by its content."""

    def estimate_tokens(self, settings) -> int:
        """Tokens the source will give (its budget), for `--dry-run`."""

    def build(self, inputs: BuildInputs) -> CalibrationSet: ...


_NAMED: dict[str, CalibrationSource] = {}
_PREFIXED: dict[str, tuple[Callable[[str], CalibrationSource], str]] = {}


def register_source(source: CalibrationSource) -> CalibrationSource:
    _NAMED[source.name] = source
    return source


def register_prefixed_source(prefix: str, make: Callable[[str], CalibrationSource], written: str) -> None:
    """A source written `prefix:<argument>` (e.g. `traces:<path>`), made from its argument; `written` shows how."""
    _PREFIXED[prefix] = (make, written)


@cache
def _load() -> None:
    """Import every module of this package; each registers its sources on import, so a new source is a new file."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def accepted() -> str:
    _load()
    return ", ".join([*_NAMED, *(written for _, written in _PREFIXED.values())])


def parse_source(text: str) -> CalibrationSource:
    _load()
    if text in _NAMED:
        return _NAMED[text]
    prefix, colon, argument = text.partition(":")
    if colon and prefix in _PREFIXED:
        return _PREFIXED[prefix][0](argument)
    raise ConfigError(f"unknown calibration source {text!r}; accepted: {accepted()}")

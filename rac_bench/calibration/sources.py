"""Calibration source names, as written after `@` in a method spec (`sparsegpt@text`):

`prompts`        the task's calibration prompts, rendered with the chat template
`traces`         the prompts followed by the dense model's own sampled chain of thought (RAC, on-policy)
`text`           random windows of a text corpus (C4 by default), the classic SparseGPT/Wanda calibration
`traces:<path>`  prompts and chains of thought from a JSONL file (off-policy, e.g. from a larger model)
"""

from __future__ import annotations

from pathlib import Path

from rac_bench.errors import ConfigError

NAMED_SOURCES = ("prompts", "traces", "text")
TRACE_FILE_PREFIX = "traces:"
ACCEPTED = "prompts, traces, text or traces:<path to a .jsonl file>"


def parse_source(text: str) -> str:
    if text in NAMED_SOURCES:
        return text
    if text.startswith(TRACE_FILE_PREFIX):
        path = Path(text[len(TRACE_FILE_PREFIX) :]).expanduser()
        if not path.is_file():
            raise ConfigError(f"trace file {path} does not exist; give traces:<path to a .jsonl file>")
        return text
    raise ConfigError(f"unknown calibration source {text!r}; accepted: {ACCEPTED}")


def trace_file_path(source: str) -> Path | None:
    return Path(source[len(TRACE_FILE_PREFIX) :]).expanduser() if source.startswith(TRACE_FILE_PREFIX) else None


def has_generated_tokens(source: str) -> bool:
    """Whether the source's sequences carry a generated chain of thought after the prompt."""
    return source == "traces" or source.startswith(TRACE_FILE_PREFIX)

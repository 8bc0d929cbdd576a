"""The leaderboard formats, one module each in this package, found by discovery: a module that holds a `FORMAT`
is a format. Each says its name, the extension it is written with beside others, whether it is a directory of
files (then how an --out is checked and written) and whether it needs example responses from the store; the CLI
only selects formats and writes what they render."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rac_bench.cells import Cell
from rac_bench.errors import ConfigError
from rac_bench.leaderboard.rows import Column


@dataclass(frozen=True)
class Leaderboard:
    """What every format renders: the cells, the title, the commands that made them, example responses by cell
    key (for the formats that need them) and the columns --columns chose (None: the format's default)."""

    cells: list[Cell]
    title: str
    commands: list[str]
    examples: dict[str, list[dict]]
    columns: list[Column] | None = None


@dataclass(frozen=True)
class Format:
    name: str
    extension: str  # PATH.<extension> when several formats are written at once
    render: Callable[[Leaderboard], str | dict[str, str]]  # a document, or a directory's files by relative path
    summary: str  # a few words for --help
    directory: bool = False
    needs_examples: bool = False  # example responses read from the store
    takes_columns: bool = False  # --columns applies
    check_out: Callable[[Path], None] | None = None  # a directory format refuses an --out before any work
    write: Callable[[Path, dict[str, str]], None] | None = None  # and writes its files


def available_formats() -> dict[str, Format]:
    """Every format of this package (and of any folder added to its path), by name."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        declared = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FORMAT", None)
        if isinstance(declared, Format):
            found[declared.name] = declared
    return dict(sorted(found.items()))


def select_formats(names: list[str]) -> list[Format]:
    formats = available_formats()
    unknown = [name for name in names if name not in formats]
    if unknown:
        raise ConfigError(f"unknown format {unknown[0]!r}; accepted: {', '.join(formats)}")
    return [formats[name] for name in names]


def formats_help() -> str:
    return "; ".join(f"{f.name} ({f.summary})" for f in available_formats().values())

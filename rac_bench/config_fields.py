"""Parsers for config values and config sections.

A value arrives from YAML (any type) or from a command-line flag (a string). Each parser returns the typed
value or raises a ConfigError that names the key and what is accepted, so a wrong type in a config file is a
one-line error, never a traceback later. A section is a dataclass whose fields name their parser in
`metadata["parse"]`; `parse_section` reads a mapping into it, refusing keys it does not know.
"""

from __future__ import annotations

import math
import re
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable

from rac_bench.errors import ConfigError

MAX_SEED = 2**32 - 1  # numpy's and vLLM's seeds are 32-bit


def option(default: Any, parse: Callable[[str, Any], Any], flag: str | None = None):
    """A section field: its default, its parser, and the command-line flag that sets it (if any)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"parse": parse, "flag": flag})
    return field(default=default, metadata={"parse": parse, "flag": flag})


def subsection(cls):
    """A field holding a nested section (e.g. calibration.traces), read from a mapping."""
    return field(default_factory=cls, metadata={"parse": lambda name, value: parse_section(cls, value, name)})


def optional(parse: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """`parse`, or None for null (YAML) / an absent value."""
    return lambda name, value: None if value is None else parse(name, value)


def text(name: str, value) -> str:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be non-empty text, got {value!r}")
    return value.strip()


def path(name: str, value) -> Path:
    return Path(text(name, value)).expanduser()


def text_list(name: str, value) -> list[str]:
    """A list of strings, or one comma-separated string; empty items are refused, not skipped."""
    items = (
        value if isinstance(value, list) else str(value).split(",") if isinstance(value, (str, int, float)) else None
    )
    if items is None or not items or any(isinstance(item, (list, dict, bool)) or item is None for item in items):
        raise ConfigError(f"{name} must be a comma list or a list of names, got {value!r}")
    names = [str(item).strip() for item in items]
    if not all(names):
        raise ConfigError(f"{name} has an empty item in {value!r}; give a comma list such as a,b")
    return names


def _whole(value) -> int | None:
    """An int, or a string of digits, as an int; anything else (bools, floats, '1e3') None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def positive_int(name: str, value) -> int:
    number = _whole(value)
    if number is None or number < 1:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return number


def positive_int_list(name: str, value) -> list[int]:
    return [positive_int(name, item) for item in text_list(name, value)]


def non_negative_int(name: str, value) -> int:
    number = _whole(value)
    if number is None:
        raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
    return number


def seed(name: str, value) -> int:
    number = _whole(value)
    if number is None or not 0 <= number <= MAX_SEED:
        raise ConfigError(f"{name} must be a whole number in [0, {MAX_SEED}], got {value!r}")
    return number


def non_negative_number(name: str, value) -> float:
    number = _number(value)
    if not 0.0 <= number < math.inf:
        raise ConfigError(f"{name} must be a non-negative number, e.g. 0.5, got {value!r}")
    return number


def probability(name: str, value) -> float:
    """A number in (0, 1], as top-p is."""
    number = _number(value)
    if not 0.0 < number <= 1.0:
        raise ConfigError(f"{name} must be in (0, 1], got {value!r}")
    return number


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def mapping(name: str, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a mapping of option: value, got {value!r}")
    return dict(value)


def choice(*accepted: str) -> Callable[[str, Any], str]:
    def parse(name: str, value) -> str:
        if value not in accepted:
            raise ConfigError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
        return value

    return parse


def regex(name: str, value) -> str:
    pattern = text(name, value)
    try:
        re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"{name} {pattern!r} is not a regular expression ({error})") from None
    return pattern


def parse_section(cls, values, name: str):
    """The section `cls` with `values` (a mapping; None: all defaults) parsed over its defaults."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{name} must be a mapping of option: value, got {values!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(str(key) for key in set(values) - set(known))
    if unknown:
        where = f" in {name}" if name else ""
        raise ConfigError(f"unknown config option(s) {', '.join(unknown)}{where}; accepted: {', '.join(sorted(known))}")
    parsed = {}
    for key, value in values.items():
        parse, flag = known[key].metadata.get("parse"), known[key].metadata.get("flag")
        shown = f"{name}.{key}" if name else key
        if flag and flag != shown:
            shown += f" (--{flag.replace('_', '-')})"
        parsed[key] = parse(shown, value) if parse else value
    return cls(**parsed)


def section_flags(cls, prefix: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """flag name (argparse dest) -> path of the field it sets, for a section and the sections inside it."""
    found = {}
    for item in fields(cls):
        if item.metadata.get("flag"):
            found[item.metadata["flag"]] = (*prefix, item.name)
        if is_dataclass(item.default_factory):
            found.update(section_flags(item.default_factory, (*prefix, item.name)))
    return found

"""Files a user hands rac-bench (configs, trace files, text corpora, task data, prompt sets), read as UTF-8 text or
JSON lines. Whatever is wrong with one (bytes that are not UTF-8, JSON nested past Python's recursion limit, a NaN,
Infinity or 1e400) becomes one error line that names the file and line, never a traceback later."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rac_bench.errors import RacBenchError


@contextmanager
def reading(path: Path, error: type[RacBenchError], what: str):
    """A file that cannot be read, or is not UTF-8, becomes one `error` line naming it as `what`."""
    try:
        yield
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None
    except OSError as failure:
        raise error(f"cannot read {what} {path}: {failure.strerror}") from None


def read_text(path: Path, error: type[RacBenchError], what: str) -> str:
    with reading(path, error, what):
        return Path(path).read_text(encoding="utf-8")


def json_lines(path: Path, error: type[RacBenchError], what: str) -> Iterator[tuple[int, object]]:
    """(line number, value) for every non-blank line of `path`, each strict JSON with finite numbers."""
    with reading(path, error, what), open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, _strict_json(line, f"{what} {path}:{number}", error)


def _strict_json(text: str, where: str, error: type[RacBenchError]):
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_refuse)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; so is an int of 4300+ digits
        raise error(f"{where} is not valid JSON with finite numbers (no NaN, Infinity or 1e400)") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _refuse(name: str):
    raise ValueError(f"{name} is not a number")


def load_yaml(text: str):
    """YAML without aliases: `*name` repeats a value, and nested repeats (an "alias bomb") expand to gigabytes
    when anything walks or prints the result. rac-bench's configs never need them; a file that uses one is refused
    while it is parsed (yaml.YAMLError, with the line), before anything is expanded."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                problem = f"line {event.start_mark.line + 1}: aliases (*{event.anchor}) are not accepted; write it out"
                raise yaml.composer.ComposerError(None, None, problem, event.start_mark)
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 (a SafeLoader)

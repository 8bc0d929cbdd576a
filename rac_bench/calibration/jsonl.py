"""Calibration data in JSON lines: one string field per record, with the line number of any bad record."""

from __future__ import annotations

import json
from pathlib import Path

from rac_bench.errors import CalibrationError


def read_string_field(path: Path, field: str) -> list[str]:
    """The `field` of every non-blank line of `path`, each of which must be a JSON object with a string there."""
    values = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)[field]
                if not isinstance(value, str):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CalibrationError(
                    f"{path}:{line_number} is not a JSON object with a string {field!r} field"
                ) from None
            values.append(value)
    return values

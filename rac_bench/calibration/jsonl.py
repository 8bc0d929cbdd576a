"""Calibration data in JSON lines: one string field per record, with the line number of any bad record."""

from __future__ import annotations

from pathlib import Path

from rac_bench.errors import CalibrationError
from rac_bench.input_files import json_lines


def read_string_field(path: Path, field: str) -> list[str]:
    """The `field` of every non-blank line of `path`, each of which must be a JSON object with a string there."""
    values = []
    for line_number, record in json_lines(path, CalibrationError, "calibration file"):
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise CalibrationError(f"{path}:{line_number} is not a JSON object with a string {field!r} field")
        values.append(value)
    return values

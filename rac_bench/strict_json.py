"""JSON as rac-bench writes it, in every file and store record: strict JSON, with null where a number is NaN or
infinite (Python's json would write the bare NaN that other parsers refuse), and other objects as their text."""

from __future__ import annotations

import json
import math


def dumps(value, **kwargs) -> str:
    return json.dumps(_finite(value), allow_nan=False, default=str, **kwargs)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value

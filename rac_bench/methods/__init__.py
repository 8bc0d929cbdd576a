"""The registry of compression methods, looked up by name.

Built-in methods live one per module here; a method published as its own package registers an object
with `name`, `description`, `calibration_source` and `prune(model, context)` under the entry-point group
`rac_bench.methods`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from rac_bench.errors import ConfigError
from rac_bench.methods.base import LayerwiseMethod, Method, PruneContext

ENTRY_POINT_GROUP = "rac_bench.methods"
_REGISTRY: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is registered twice")
    _REGISTRY[method.name] = method
    return method


def _load() -> dict[str, Method]:
    if not _REGISTRY:
        from rac_bench.methods import dense, magnitude, rac, rac_wanda, sparsegpt, wanda  # noqa: F401 (they register)

        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            register_method(entry_point.load())
    return _REGISTRY


def available_methods() -> dict[str, Method]:
    return dict(_load())


def get_method(name: str) -> Method:
    methods = _load()
    if name not in methods:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(sorted(methods))}")
    return methods[name]


__all__ = ["LayerwiseMethod", "Method", "PruneContext", "available_methods", "get_method", "register_method"]

"""The registry of compression methods, looked up by name.

Built-in methods live one per module here, each registering itself on import (`register_method`), and are found by
importing every module of this package but its support modules (`SUPPORT_MODULES`), as calibration sources are: a
new built-in is one new file. A name may be an alias of a method on a calibration source (`rac` is
`sparsegpt@traces`, rac_bench.methods.base.MethodAlias). A method published as its own package registers an object with
`description`, `calibration_source` and `prune(model, context)` under the entry-point group `rac_bench.methods`,
and is known by its entry point's name (docs/methods.md). Each method's origin (rac-bench itself, or a plugin's
distribution, version and module) is kept, so fingerprints follow its code (rac_bench.methods.code). A plugin that
fails to load, or reuses a name, is set aside with a one-line reason naming its distribution; the other methods
still work.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points

from rac_bench.errors import ConfigError, first_line
from rac_bench.methods.base import LayerwiseMethod, Method, MethodAlias, PruneContext

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rac_bench.methods"
# what a method is (structured: the base of width, depth, experts), its code's hash, its spec: they register nothing
SUPPORT_MODULES = {"base", "code", "spec", "structured"}


@dataclass(frozen=True)
class MethodOrigin:
    distribution: str  # "rac-bench" for a built-in
    version: str | None
    module: str  # the module whose source the method's fingerprint hashes (a plugin: its entry point's module)


_REGISTRY: dict[str, Method | MethodAlias] = {}
_ORIGINS: dict[str, MethodOrigin] = {}
_BROKEN: dict[str, str] = {}  # plugin method name -> why it is not available
_DISTRIBUTIONS: dict[str, object] = {}  # plugin method name -> its importlib.metadata Distribution


def register_method(method: Method | MethodAlias) -> Method | MethodAlias:
    """Register a built-in method, from the module that defines it (whose source its fingerprint hashes)."""
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is registered twice")
    _REGISTRY[method.name] = method
    _ORIGINS[method.name] = MethodOrigin("rac-bench", None, inspect.currentframe().f_back.f_globals["__name__"])
    return method


def _load() -> dict[str, Method]:
    if not _REGISTRY:
        for module in pkgutil.iter_modules(__path__):
            if module.name not in SUPPORT_MODULES:
                importlib.import_module(f"{__name__}.{module.name}")
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            _load_plugin(entry_point)
    return _REGISTRY


def _load_plugin(entry_point) -> None:
    distribution = entry_point.dist.name if entry_point.dist else "an unknown distribution"
    version = entry_point.dist.version if entry_point.dist else None
    plugin = f"{distribution} {version}" if version else distribution
    name = entry_point.name
    if name in _REGISTRY or name in _BROKEN:
        owner = _ORIGINS[name].distribution if name in _ORIGINS else "another plugin"
        _BROKEN.setdefault(
            name, f"the plugin {plugin} registers method {name!r}, which {owner} already has; rename its entry point"
        )
        if owner != "rac-bench":  # two plugins, one name: neither is the method a user asked for
            _REGISTRY.pop(name, None)
        return
    try:
        method = entry_point.load()
    except (Exception, SystemExit) as error:  # a plugin's import can fail any way; the other methods must still work
        reason = f"exit({error.code})" if isinstance(error, SystemExit) else first_line(error)
        _BROKEN[name] = f"the plugin {plugin} failed to load method {name!r} ({entry_point.value}): {reason}"
        return
    if getattr(method, "name", name) != name:
        log.warning(
            "plugin %s: method object named %r is registered as %r, its entry point's name",
            plugin,
            getattr(method, "name", None),
            name,
        )
    _REGISTRY[name] = method
    _ORIGINS[name] = MethodOrigin(distribution, version, entry_point.module)
    _DISTRIBUTIONS[name] = entry_point.dist


def available_methods() -> dict[str, Method | MethodAlias]:
    return dict(_load())


def unavailable_methods() -> dict[str, str]:
    """Plugin methods that could not be registered, with the reason."""
    _load()
    return dict(_BROKEN)


def method_origin(name: str) -> MethodOrigin:
    get_method(name)
    return _ORIGINS[name]


def method_distribution(name: str):
    """The installed distribution a plugin method came from (None for a built-in): its files are its code."""
    get_method(name)
    return _DISTRIBUTIONS.get(name)


def get_method(name: str) -> Method | MethodAlias:
    methods = _load()
    if name in _BROKEN and name not in methods:
        raise ConfigError(_BROKEN[name])
    if name not in methods:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(sorted(methods))}")
    return methods[name]


__all__ = [
    "LayerwiseMethod",
    "Method",
    "MethodAlias",
    "MethodOrigin",
    "PruneContext",
    "available_methods",
    "get_method",
    "method_distribution",
    "method_origin",
    "register_method",
    "unavailable_methods",
]

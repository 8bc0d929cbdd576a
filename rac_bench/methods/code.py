"""What a variant's fingerprint knows of the code that made its weights, so that editing a method re-prunes it:
a hash of rac-bench's own source that prunes (the engine, layouts, solvers, the method base, saving), of the method's
code (a built-in's module; for a plugin, every file of its distribution that Python can import or read: the files
its installation lists and every file of its top-level package, which an editable install does not list, with its
name and version), and, for a calibrated variant, of the calibration package that builds its sequences."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# rac-bench's source that decides a pruned variant's weights, whatever the method
PRUNING_SOURCE = ("pruning", "methods/base.py", "methods/structured.py", "variants.py", "checkpoints.py")


def method_code(name: str, calibrated: bool) -> dict:
    from rac_bench.methods import method_origin

    origin = method_origin(name)
    built_in = origin.distribution == "rac-bench"
    code = {
        "rac_bench": source_hash(tuple(PACKAGE / part for part in PRUNING_SOURCE)),
        "method": {
            "distribution": origin.distribution,
            "version": origin.version,
            "source": module_hash(origin.module) if built_in else plugin_hash(name, origin.module),
        },
    }
    if calibrated:
        code["calibration"] = source_hash((PACKAGE / "calibration",))
    return code


NOT_CODE = ("RECORD", "INSTALLER", "REQUESTED")  # written by the installer about the install, not by the author


def plugin_hash(name: str, module: str) -> str:
    """sha256 over every file of the plugin's distribution and of its entry point's top-level package, by name
    (compiled caches left out: they follow the sources)."""
    from rac_bench.methods import method_distribution

    files: dict[str, Path] = {}
    distribution = method_distribution(name)
    for listed in (distribution.files or []) if distribution is not None else []:
        files[str(listed)] = Path(distribution.locate_file(listed))
    spec = importlib.util.find_spec(module.split(".")[0])
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        root = Path(location)
        files.update({str(path.relative_to(root.parent)): path for path in root.rglob("*") if path.is_file()})
    if spec is not None and spec.submodule_search_locations is None and spec.origin:
        files[Path(spec.origin).name] = Path(spec.origin)  # a single-module plugin
    return _files_hash(tuple(sorted((key, path) for key, path in files.items() if _is_source(key))))


def _is_source(name: str) -> bool:
    parts = Path(name).parts
    return "__pycache__" not in parts and not name.endswith(".pyc") and Path(name).name not in NOT_CODE


@lru_cache(maxsize=None)
def _files_hash(files: tuple[tuple[str, Path], ...]) -> str:
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(absent)")
    return digest.hexdigest()[:16]


def module_hash(module: str) -> str:
    """The source of a module, or of every module of a package."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return "unknown"
    locations = list(spec.submodule_search_locations or [])
    return source_hash(tuple(Path(location) for location in locations) or (Path(spec.origin),))


@lru_cache(maxsize=None)
def source_hash(paths: tuple[Path, ...]) -> str:
    """sha256 over the Python files at `paths` (files, or directories searched recursively), by relative name."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
            digest.update(str(file.relative_to(root.parent)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]

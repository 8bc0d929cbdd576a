"""What a variant's fingerprint knows of the code that made its weights, so that editing a method re-prunes it:
a hash of rac-bench's own source that prunes (the engine, layouts, solvers, the method base, saving), of the method's
module (a built-in's, or a plugin's entry-point module or package, with the plugin's distribution and version), and,
for a calibrated variant, of the calibration package that builds its sequences."""

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
    code = {
        "rac_bench": source_hash(tuple(PACKAGE / part for part in PRUNING_SOURCE)),
        "method": {
            "distribution": origin.distribution,
            "version": origin.version,
            "source": module_hash(origin.module),
        },
    }
    if calibrated:
        code["calibration"] = source_hash((PACKAGE / "calibration",))
    return code


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

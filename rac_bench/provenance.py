"""Where a result came from, stored beside every run and cell: the main package versions, a hash of the whole
installed package set (the set itself goes into summary.json), the plugin methods, the git commit, and the hardware
with the instruction set torch dispatches to on the CPU and the GPU it runs on."""

from __future__ import annotations

import copy
import hashlib
import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path

PACKAGES = ("rac-bench", "torch", "transformers", "lm_eval", "vllm", "math-verify")


def package_versions() -> dict[str, str | None]:
    from rac_bench import __version__

    versions = {}
    for name in PACKAGES:
        if name == "rac-bench":  # the code that runs: an editable install's metadata can be older
            versions[name] = __version__
            continue
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


@lru_cache(maxsize=1)
def installed_packages() -> tuple[str, ...]:
    """Every installed distribution as name==version, sorted (read once per process: reading every
    distribution's metadata takes about half a second)."""
    return tuple(sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]}))


def plugins() -> list[dict]:
    """The plugin methods available, with their distribution, version and entry-point module."""
    from rac_bench.methods import available_methods, method_origin
    from rac_bench.methods.code import module_hash

    found = []
    for name in sorted(available_methods()):
        origin = method_origin(name)
        if origin.distribution != "rac-bench":
            found.append(
                {
                    "method": name,
                    "distribution": origin.distribution,
                    "version": origin.version,
                    "module": origin.module,
                    "source": module_hash(origin.module),
                }
            )
    return found


def method_descriptions() -> dict[str, dict]:
    """Every available method's one-line description, paper link and package, for the leaderboards' method pages
    (a store rendered where a plugin is not installed still describes it)."""
    from rac_bench import __version__
    from rac_bench.methods import available_methods, method_origin

    found = {}
    for name, method in sorted(available_methods().items()):
        origin = method_origin(name)
        found[name] = {
            "description": method.description,
            "paper": getattr(method, "paper", None),
            "distribution": origin.distribution,
            "version": origin.version or (__version__ if origin.distribution == "rac-bench" else None),
        }
    return found


def hardware() -> dict:
    """The machine, and where torch runs when this process loaded it (a rerun answered from the store loads no
    torch, and records no dispatch)."""
    torch = sys.modules.get("torch")
    found = {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.system(),
    }
    if torch is None:
        return found
    found["cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # the kernels torch dispatches to (AVX2, ...)
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name()
        found["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability()))
    return found


@lru_cache(maxsize=1)
def _process_provenance() -> dict:
    packages = installed_packages()
    return {
        "packages": package_versions(),
        "package_set_sha256": hashlib.sha256("\n".join(packages).encode()).hexdigest()[:16],
        "plugins": plugins(),
        "methods": method_descriptions(),
        "git_commit": git_commit(),
        "hardware": hardware(),
    }


def provenance() -> dict:
    """Where this process's results come from; computed once per process (a Ray worker computes its own)."""
    return copy.deepcopy(_process_provenance())

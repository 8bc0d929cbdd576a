"""How many CPU threads torch uses in a run (`--threads`, or this default).

torch's own default is one thread per core, which is the wrong one on a shared machine: its threads meet at a
barrier after every parallel step, so a thread whose core another busy process holds stalls all the others.
On a 2-core machine with one other busy process, the default run takes several times longer with two threads
than with one (benchmarks/README.md, "Threads"). So the default is one thread for a small model, whose
matrices are too small to gain from more, and for a larger one the cores that the load average leaves free, decided
again at the start of every phase (pruning a variant, sampling traces, evaluating one), not once per run."""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)

SMALL_MODEL_PARAMETERS = 50_000_000
TORCH_DEFAULT_THREADS = torch.get_num_threads()  # OMP_NUM_THREADS, else the physical cores: before anyone sets it


def _usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, TORCH_DEFAULT_THREADS)


def default_threads(parameters: int) -> int:
    if parameters < SMALL_MODEL_PARAMETERS:
        return 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, _usable_cores() - busy)


def set_threads(threads: int | None, model: torch.nn.Module) -> int:
    """Use `threads`, or the default for `model`; returns the count."""
    count = threads or default_threads(sum(p.numel() for p in model.parameters()))
    torch.set_num_threads(count)
    log.debug("torch threads: %d", count)
    return count

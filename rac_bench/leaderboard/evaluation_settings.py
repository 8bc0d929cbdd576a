"""How a page's numbers were measured: decoding, token limit, samples, problems, seed and backend, read from each
cell's recorded settings, so that a table copied into a paper can say what it was measured with."""

from __future__ import annotations

import html
from itertools import groupby

from rac_bench.cells import Cell
from rac_bench.fingerprint import fingerprint
from rac_bench.leaderboard.page import readable
from rac_bench.tasks import TASKS, generation_kwargs, task_definition


def decoding(settings: dict) -> str:
    """Greedy, or the temperature and top-p sampled at: the task's YAML as the run's samples changed it. Read from
    today's YAML only where its definition is the one the cell was measured with."""
    name = settings.get("task")
    if name not in TASKS or fingerprint(task_definition(name)) != settings.get("task_definition"):
        return f"as the task's definition {str(settings.get('task_definition'))[:12]} said"
    task = TASKS[name]
    changed = generation_kwargs(task, settings.get("samples") or task.samples)
    temperature = changed["temperature"] if changed else task.generation.temperature
    top_p = changed["top_p"] if changed else task.generation.top_p
    return "greedy" if temperature == 0 else f"sampled at temperature {temperature:g}, top-p {top_p:g}"


def _described(settings: dict) -> dict[str, str]:
    task = TASKS.get(settings.get("task"))
    max_new_tokens = settings.get("max_new_tokens") or (task.generation.max_new_tokens if task else None)
    return {
        "decoding": decoding(settings),
        "samples per problem": readable(settings.get("samples") or (task.samples if task else None)),
        "max new tokens": readable(max_new_tokens),
        "problems": "all" if settings.get("limit") is None else f"the first {readable(settings['limit'])}",
        "seed": readable(settings.get("seed")),
        "backend": ", ".join(
            readable(settings.get(key)) for key in ("backend", "dtype", "device") if settings.get(key) is not None
        )
        + (f", batch size {readable(settings['batch_size'])}" if settings.get("batch_size") else ""),
    }


def evaluation_settings(cells: list[Cell]) -> str:
    """One list per task of the page's cells: each setting's value, or its values where cells differ."""
    parts = []
    ordered = sorted(cells, key=lambda c: c.identity.task)
    for task, group in groupby(ordered, key=lambda c: c.identity.task):
        described = [_described(c.settings or {}) for c in group]
        items = "".join(
            f"<dt>{html.escape(key)}</dt><dd>{html.escape('; '.join(dict.fromkeys(d[key] for d in described)))}</dd>"
            for key in described[0]
        )
        parts.append(f"<h3>Evaluation on {html.escape(task)}</h3><dl class=\"settings\">{items}</dl>")
    return "".join(parts)

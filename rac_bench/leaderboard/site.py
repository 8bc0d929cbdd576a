"""`rac-bench leaderboard --format site --out DIR`: the leaderboard as a static site a lab can push to any static
host as it is (no server, no network at view time, no JavaScript framework):

    index.html                      one table per model: tasks as columns, the mean over tasks, headline metrics
    leaderboard.csv, .json          every cell, every column (the data behind the index)
    models/MODEL/TASK.html          the full table, charts and example responses of one model on one task
    methods/METHOD.html             what a method is (description, paper, package), its calibration, every cell
    (each page's data beside it as .csv and .json)

Every page is rendered before anything is written; the site is written to a temporary directory beside DIR and
renamed into place, so DIR is either the old site or the new one. DIR must be new, empty or an earlier site
(marked by a `.rac-bench-site` file): nothing else is ever replaced.
"""

from __future__ import annotations

import html
from dataclasses import replace
from functools import partial
from itertools import groupby
from pathlib import Path

from rac_bench import catalogue, strict_json
from rac_bench.cells import Cell
from rac_bench.leaderboard.html import (
    NOTE,
    calibration,
    calibrations,
    cell_table,
    commands_html,
    frontier_figure,
    slug,
    styles_for,
    task_section,
)
from rac_bench.catalogue.builtin import quantization_bits
from rac_bench.leaderboard.evaluation_settings import evaluation_settings
from rac_bench.leaderboard.method_info import method_infos
from rac_bench.leaderboard.page import Row, footer, page, settings_list, table_html
from rac_bench.leaderboard.problems import problems_files, problems_link
from rac_bench.leaderboard.site_files import MARKER
from rac_bench.leaderboard.rows import (
    Column,
    Entry,
    best_in_groups,
    column_named,
    format_estimate,
    numeric,
    order_cells,
    rank_group,
    shown_columns,
)
from rac_bench.leaderboard.table_json import table_document
from rac_bench.leaderboard.text import render_csv
from rac_bench.metrics import Estimate
from rac_bench.provenance import git_commit

INDEX_METRIC = "accuracy"  # the index's per-task columns; its means are the catalogue's `index_mean` metrics
RANK_COLUMNS = ("rank", "tied_with_best")  # beside each task's accuracy on the index


class _Names:
    """File names from model, task and method names: safe, and distinct even where two names slug alike."""

    def __init__(self):
        self._given: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._given:
            base, number = slug(name), 1
            candidate = base
            while candidate in self._given.values():
                number += 1
                candidate = f"{base}-{number}"
            self._given[name] = candidate
        return self._given[name]


def _downloads(stem: str) -> str:
    return (
        f'<p class="note">Data behind this page: <a href="{stem}.csv" download>{stem}.csv</a> · '
        f'<a href="{stem}.json" download>{stem}.json</a></p>'
    )


def _navigation(depth: int, here: str) -> str:
    up = "../" * depth
    return f'<nav aria-label="site"><a href="{up}index.html">All models</a><span>{html.escape(here)}</span></nav>'


def _variant_key(cell: Cell) -> tuple:
    """A variant across tasks, ordered as the task pages order budget groups: pattern, sparsity, then bits."""
    identity, bits = cell.identity, quantization_bits(cell)
    return (not identity.is_dense, identity.pattern, identity.sparsity, bits is not None, -(bits or 0), identity.method)


def _by_budget_then_rank(variants: dict[tuple, dict[str, Cell]], first_task: str) -> dict[tuple, dict[str, Cell]]:
    """Within each budget group, the variants by their rank on the first task (unranked last), then by name."""

    def key(item):
        budget, by_task = item
        rank = by_task[first_task].results.get("rank") if first_task in by_task else None
        return (*budget[:-1], rank is None, rank or 0, budget[-1])

    return dict(sorted(variants.items(), key=key))


def _index_table(model: str, cells: list[Cell], task_pages: dict[str, str], method_pages: dict[str, str]) -> str:
    """Tasks as columns, a row per variant; the mean over tasks where a variant has every task."""
    tasks = sorted({c.identity.task for c in cells})
    variants: dict[tuple, dict[str, Cell]] = {}
    for cell in sorted(cells, key=_variant_key):
        variants.setdefault(_variant_key(cell), {})[cell.identity.task] = cell
    variants = _by_budget_then_rank(variants, tasks[0])
    head = [
        column_named(key)
        for key in ("method", "sparsity", "achieved", "bits")
        if column_named(key).kind == "text" or any(numeric(column_named(key).read(cell)) is not None for cell in cells)
    ]
    per_task = [Column.of(catalogue.get(INDEX_METRIC))] + [  # and the rank within its budget group, where ranked
        column_named(key) for key in RANK_COLUMNS if any(cell.results.get(key) is not None for cell in cells)
    ]
    task_columns = [
        replace(metric, key=f"{metric.key}:{task}", name=f"{task} {metric.name}", read=lambda c: None)
        for task in tasks
        for metric in per_task
    ]
    averaged = [metric for metric in catalogue.metrics() if metric.index_mean]
    means = [
        Column(f"mean_{m.key}", f"mean {m.short_header}", "number", lambda c: None, m.higher_is_better, m.digits)
        for m in averaged
    ]
    means = [replace(mean, signed=metric.signed) for mean, metric in zip(means, averaged)]
    columns = head + task_columns + means
    values: list[list[object]] = []
    for by_task in variants.values():
        first = next(iter(by_task.values()))
        row = [column.read(first) for column in head]
        row += [metric.read(by_task[task]) if task in by_task else None for task in tasks for metric in per_task]
        complete = len(by_task) == len(tasks)
        row += [_mean([m.value(c) for c in by_task.values()]) if complete else None for m in averaged]
        values.append(row)
    best = _index_best(list(variants.values()), columns, values)
    rows = []
    for number, (by_task, row_values) in enumerate(zip(variants.values(), values)):
        first = next(iter(by_task.values()))
        entries = [_entry(column, value, (number, column.key) in best) for column, value in zip(columns, row_values)]
        links = {"method": method_pages[first.identity.method]}
        row_id = f"{slug(model)}-{slug(first.identity.variant_label)}"
        links.update(
            {
                f"{INDEX_METRIC}:{t}": f"{task_pages[t]}#cells-{slug(c.identity.variant_label)}"
                for t, c in by_task.items()
            }
        )
        rows.append(Row(entries, row_id, "dense" if first.identity.is_dense else "pruned", links))
    return table_html(f"index-{slug(model)}", f"{model}: accuracy per task and the mean over tasks", columns, rows)


def _mean(estimates: list[Estimate | None]) -> float | None:
    numbers = [numeric(e) for e in estimates]
    return None if not numbers or any(n is None for n in numbers) else sum(numbers) / len(numbers)


def _entry(column: Column, value, best: bool) -> Entry:
    if column.kind == "text":
        return Entry("-" if value is None else str(value), "" if value is None else str(value), best, value)
    number = numeric(value)
    if isinstance(value, Estimate):
        text = format_estimate(value, digits=column.digits)
    else:
        text = (
            "-" if number is None else f"{number:{'+' if column.signed else ''}.{column.digits}f}"
        )
    return Entry(text, number, best, value)


def _index_best(variants: list[dict[str, Cell]], columns: list[Column], values: list[list]) -> set[tuple[int, str]]:
    """Best per column among the compressed variants at the same sparsity and bits (none when all tie)."""
    groups: dict[tuple, list[int]] = {}
    for number, by_task in enumerate(variants):
        first = next(iter(by_task.values()))
        if not first.identity.is_dense:
            groups.setdefault(rank_group(first), []).append(number)
    position = {column.key: index for index, column in enumerate(columns)}
    return best_in_groups(groups.values(), columns, lambda number, column: values[number][position[column.key]])


def _method_link(method_pages: dict[str, str], cell: Cell) -> dict[str, str]:
    """From a task page (two folders down) to the row's method page."""
    return {"method": f"../../{method_pages[cell.identity.method]}"}


def _task_link(task_pages: dict[tuple, str], cell: Cell) -> dict[str, str]:
    """From a method page (one folder down) to the cell's row on its task page."""
    page_path = task_pages[(cell.identity.model, cell.identity.task)]
    return {"task": f"../{page_path}#cells-{slug(cell.identity.variant_label)}"}


def _how_made(commands: list[str], cells: list[Cell]) -> str:
    return "<h2>How these numbers were made</h2>" + commands_html(commands) + evaluation_settings(cells)


class _Site:
    """The pages of one render, with the paths they link each other by."""

    def __init__(self, cells: list[Cell], title: str, commands: list[str], examples: dict, samples: dict):
        self.cells, self.title, self.commands, self.examples = order_cells(cells), title, commands, examples
        self.samples = samples
        self.commit, self.styles, self.infos = git_commit(), styles_for(cells), method_infos(cells)
        models, tasks, methods = _Names(), _Names(), _Names()
        self.task_pages = {
            (c.identity.model, c.identity.task): f"models/{models(c.identity.model)}/{tasks(c.identity.task)}.html"
            for c in self.cells
        }
        self.method_pages = {c.identity.method: f"methods/{methods(c.identity.method)}.html" for c in self.cells}
        self.files: dict[str, str] = {MARKER: "a static site written by `rac-bench leaderboard --format site`\n"}

    def add(self, path: str, html_text: str, cells: list[Cell], title: str, stem: str | None = None) -> None:
        """A page and, beside it, the data behind it (as `stem`.csv and .json; default: the page's name)."""
        stem = stem or path.removesuffix(".html")
        self.files[path] = html_text
        self.files[f"{stem}.csv"] = render_csv(cells)
        self.files[f"{stem}.json"] = strict_json.dumps(table_document(cells, title, self.commands), indent=2) + "\n"

    def task_page(self, model: str, task: str, cells: list[Cell]) -> None:
        path = self.task_pages[(model, task)]
        others = sorted({c.identity.task for c in self.cells if c.identity.model == model} - {task})
        related = " ".join(f'<a href="../../{self.task_pages[(model, t)]}">{html.escape(t)}</a>' for t in others)
        body = (
            task_section(cells, self.styles, "cells", self.examples, partial(_method_link, self.method_pages), 2)
            + self.problems_page(path, f"{model} on {task}", cells)
            + _downloads(Path(path).stem)
            + (f'<p class="note">Other tasks of this model: {related}</p>' if related else "")
            + _how_made(self.commands, cells)
            + calibrations(cells)
        )
        title = f"{model} on {task}"
        self.add(path, page(title, body, footer(cells, self.commit), _navigation(2, title)), cells, title)

    def problems_page(self, task_path: str, title: str, cells: list[Cell]) -> str:
        """The task's problem-by-problem page and its JSONL file; the task page's link to them ("" without)."""
        stem = Path(task_path).stem
        made = problems_files(cells, self.samples, stem, title, footer(cells, self.commit))
        self.files.update({str(Path(task_path).with_name(name)): text for name, text in made.items()})
        return problems_link(stem) if made else ""

    def method_page(self, label: str) -> None:
        info, path = self.infos[label], self.method_pages[label]
        cells = [c for c in self.cells if c.identity.method == label]
        described = {
            "method": info.label,
            "runs": info.name,
            "description": info.summary,
            "package": f"{info.distribution} {info.version or ''}".strip() if info.distribution else "unknown",
        }
        paper = f'<p>Paper: <a href="{html.escape(info.paper)}">{html.escape(info.paper)}</a></p>' if info.paper else ""
        manifests = [
            f"<details><summary><code>{html.escape(c.identity.model)} {html.escape(c.identity.variant_label)}</code> "
            f"on {html.escape(c.identity.task)}</summary>{calibration(c.pruning['calibration'])}</details>"
            for c in cells
            if (c.pruning or {}).get("calibration")
        ]
        calibrated = (
            "<h2>Calibration</h2>" + "".join(manifests) if manifests else "<p>This method takes no calibration.</p>"
        )
        columns = [column_named("model"), *[c for c in shown_columns(cells) if c.key != "model"]]
        table = cell_table(
            cells, "cells", f"{label}: {len(cells)} cells", columns, partial(_task_link, self.task_pages)
        )
        body = (
            settings_list(described)
            + paper
            + "<h2>Every cell</h2>"
            + table
            + f'<p class="note">{html.escape(NOTE)}</p>'
            + _downloads(Path(path).stem)
            + calibrated
            + _how_made(self.commands, cells)
        )
        title = f"Method: {label}"
        self.add(path, page(title, body, footer(cells, self.commit), _navigation(1, f"method {label}")), cells, title)

    def index(self) -> None:
        models = []
        for model, group in groupby(self.cells, key=lambda c: c.identity.model):
            group = list(group)
            pages = {c.identity.task: self.task_pages[(model, c.identity.task)] for c in group}
            task_links = " · ".join(f'<a href="{pages[t]}">{html.escape(t)}</a>' for t in sorted(pages))
            frontiers = "".join(
                frontier_figure(list(cells), self.styles, f"frontier-{slug(model)}-{slug(task)}")
                for task, cells in groupby(sorted(group, key=lambda c: c.identity.task), key=lambda c: c.identity.task)
            )
            models.append(
                f"<section><h2>{html.escape(model)}</h2>{frontiers}<p>Full tables and charts per task: {task_links}</p>"
                f"{_index_table(model, group, pages, self.method_pages)}</section>"
            )
        methods = "".join(
            f'<li><a href="{self.method_pages[label]}"><code>{html.escape(label)}</code></a>: '
            f"{html.escape(info.summary)}"
            + (f' (<a href="{html.escape(info.paper)}">paper</a>)' if info.paper else "")
            + "</li>"
            for label, info in self.infos.items()
        )
        body = (
            "".join(models)
            + f'<p class="note">{html.escape(NOTE)} The means are unweighted over tasks, shown for variants measured '
            "on every task of their model.</p>"
            + f"<h2>Methods</h2><ul>{methods}</ul>"
            + _downloads("leaderboard")
            + _how_made(self.commands, self.cells)
        )
        index = page(self.title, body, footer(self.cells, self.commit))
        self.add("index.html", index, self.cells, self.title, stem="leaderboard")


def site_pages(
    cells: list[Cell], title: str, commands: list[str], examples: dict, samples: dict | None = None
) -> dict[str, str]:
    """Every file of the site, by its path relative to the site's directory."""
    site = _Site(cells, title, commands, examples, samples or {})
    for (model, task), group in groupby(site.cells, key=lambda c: (c.identity.model, c.identity.task)):
        site.task_page(model, task, list(group))
    for label in site.method_pages:
        site.method_page(label)
    site.index()
    return site.files

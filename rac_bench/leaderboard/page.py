"""The HTML leaderboards' shared parts: the page (a viewport tag, one stylesheet and one small script inline, so a
page works from a static host or a file with no network), a sortable table, readable settings and the footer.

Tables sit in their own scroll container with a sticky header and first column, so a wide table never widens the
page. Headers are buttons (keyboard-operable) with `aria-sort`; the first click sorts best first where a column
has a better direction; the sort is kept in the URL (`#sort=KEY-desc`, KEY a column's machine name, the same as
in `--columns` and the CSV). Rows have ids, so `page.html#ROW` links to one row.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from rac_bench import __version__
from rac_bench.cells import Cell
from rac_bench.leaderboard.rows import Column, Entry

STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1rem; color: #222; max-width: 1600px;
  line-height: 1.4; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.8rem; } h2 { font-size: 1.3rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; } nav { font-size: 0.95rem; } nav a { margin-right: 0.8rem; }
a { color: #0b5cad; }
.table-scroll { overflow: auto; max-height: 80vh; border: 1px solid #ccc; margin: 0.4rem 0 0.6rem; }
table.leaderboard { border-collapse: separate; border-spacing: 0; font-size: 0.875rem; }
table.leaderboard caption { text-align: left; padding: 6px 8px; color: #444; position: sticky; left: 0;
  max-width: calc(100vw - 3rem); }
table.leaderboard th, table.leaderboard td { padding: 4px 8px; text-align: right; white-space: nowrap;
  border-bottom: 1px solid #e3e3e3; border-right: 1px solid #eee; background: #fff; overflow-wrap: normal; }
table.leaderboard thead th { position: sticky; top: 0; z-index: 2; background: #f0f0f0; vertical-align: bottom; }
table.leaderboard tr > :first-child { position: sticky; left: 0; z-index: 1; text-align: left;
  border-right: 1px solid #ccc; }
table.leaderboard thead tr > :first-child { z-index: 3; }
table.leaderboard tbody th { font-weight: normal; }
table.leaderboard td.text { text-align: left; }
table.leaderboard td.best { font-weight: bold; background: #e6f4ea; }
table.leaderboard tr.dense > * { background: #f7f7f7; font-style: italic; }
table.leaderboard tr:target > * { background: #fff3c4; }
table.leaderboard tbody tr.budget-start > * { border-top: 2px solid #777; }
th button { font: inherit; font-weight: bold; color: inherit; background: none; border: 0; padding: 2px 0;
  cursor: pointer; text-align: inherit; }
th button:focus-visible { outline: 2px solid #0072B2; outline-offset: 2px; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
a.permalink { margin-left: 0.4em; color: #888; text-decoration: none; }
.controls { display: flex; flex-wrap: wrap; gap: 0.6rem 1.2rem; align-items: center; font-size: 0.9rem; }
.controls details { max-width: 100%; } .controls label { white-space: nowrap; margin-right: 0.6rem; }
.note { font-size: 0.9rem; color: #444; max-width: 75rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 360px), 1fr)); gap: 1rem 1.5rem; }
figure { margin: 0; min-width: 0; } figure :is(h3, h4) { margin: 0.3rem 0; font-size: 1rem; }
figcaption { font-size: 0.85rem; color: #444; }
svg.chart { width: 100%; max-width: 600px; height: auto; display: block; }
svg.chart text { font-size: 13px; fill: #222; } svg.chart .axis { stroke: #444; } svg.chart .grid { stroke: #eee; }
ul.legend { list-style: none; padding: 0; margin: 0.2rem 0; display: flex; flex-wrap: wrap; gap: 0.2rem 0.9rem;
  font-size: 0.85rem; }
ul.legend li { display: flex; align-items: center; gap: 0.3rem; }
svg.swatch { width: 14px; height: 14px; flex: none; }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; font-size: 0.9rem; }
dl.settings dt { color: #555; } dl.settings dd { margin: 0; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 0.5rem; max-width: 100%; overflow-wrap: anywhere; }
code { background: #f3f3f3; padding: 0 3px; }
footer { margin-top: 2.5rem; padding-top: 0.6rem; border-top: 1px solid #ddd; font-size: 0.85rem; color: #555; }
@media (prefers-color-scheme: dark) {
  body { background: #121212; color: #e6e6e6; } a { color: #8ab4f8; }
  .note, figcaption, footer, dl.settings dt, table.leaderboard caption { color: #c8c8c8; }
  table.leaderboard th, table.leaderboard td { background: #1e1e1e; border-color: #333; }
  table.leaderboard thead th { background: #2a2a2a; } table.leaderboard td.best { background: #1f3b2a; }
  table.leaderboard tr.dense > * { background: #262626; } table.leaderboard tr:target > * { background: #4a4020; }
  pre, code { background: #1e1e1e; } .table-scroll { border-color: #444; } a.permalink { text-decoration: underline; }
  svg.chart { background: #fff; border-radius: 4px; }  /* the charts keep their light palette (contrast checked) */
}
"""

SCRIPT = """
function sortKey(cell) {
  const value = cell.dataset.sort;
  if (value === undefined || value === "") return null;
  const number = Number(value);
  return Number.isNaN(number) ? value : number;
}
function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortKey(a.cells[column]), y = sortKey(b.cells[column]);
    if (x === null || y === null) return (x === null) - (y === null);  // not measured: last either way
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return descending ? -order : order;
  });
  rows.forEach((row) => body.appendChild(row));
  Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
    header.setAttribute("aria-sort", index === column ? (descending ? "descending" : "ascending") : "none");
  });
}
document.querySelectorAll("table.leaderboard").forEach((table) => {
  Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
    const button = header.querySelector("button");
    if (!button) return;
    button.addEventListener("click", () => {
      const now = header.getAttribute("aria-sort");
      const descending = now === "none" ? header.dataset.first === "descending" : now === "ascending";
      sortTable(table, index, descending);
      history.replaceState(null, "", "#sort=" + header.dataset.key + "-" + (descending ? "desc" : "asc"));
    });
  });
});
document.querySelectorAll("input[data-filter]").forEach((input) => {
  const table = document.getElementById(input.dataset.filter);
  input.addEventListener("input", () => {
    const words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    Array.from(table.tBodies[0].rows).forEach((row) => {
      const text = Array.from(row.cells).filter((cell) => cell.classList.contains("text"))
        .map((cell) => cell.textContent).join(" ").toLowerCase();  // names and labels, not numbers
      row.hidden = !words.every((word) => text.includes(word));
    });
  });
});
document.querySelectorAll("input[data-column]").forEach((box) => {
  const table = document.getElementById(box.dataset.table);
  box.addEventListener("change", () => {
    const index = Number(box.dataset.column);
    Array.from(table.rows).forEach((row) => { if (row.cells[index]) row.cells[index].hidden = !box.checked; });
  });
});
const requested = /^#sort=([^&]+)-(asc|desc)$/.exec(decodeURIComponent(window.location.hash));
if (requested) {
  document.querySelectorAll("table.leaderboard").forEach((table) => {
    const headers = Array.from(table.tHead.rows[0].cells);
    const index = headers.findIndex((header) => header.dataset.key === requested[1]);
    if (index >= 0) sortTable(table, index, requested[2] === "desc");
  });
}
document.body.dataset.ready = "1";
"""


@dataclass(frozen=True)
class Row:
    """One table row: its entries, its id (the permalink), a class (dense rows are set apart) and links by column."""

    entries: list[Entry]
    row_id: str
    kind: str = "pruned"
    links: dict[str, str] | None = None  # column key -> href of that entry


def _first_direction(column: Column) -> str:
    if column.higher_is_better is not None:  # best first
        return "descending" if column.higher_is_better else "ascending"
    return "ascending" if column.kind == "text" else "descending"


def table_html(table_id: str, caption: str, columns: list[Column], rows: list[Row]) -> str:
    """A sortable table in its scroll container, with a row filter and a column chooser above it."""
    head = "".join(
        f'<th scope="col" aria-sort="none" data-key="{html.escape(c.key)}" data-first="{_first_direction(c)}"'
        + (f' title="{html.escape(c.description)}"' if c.description else "")
        + f'><button type="button">{html.escape(c.name)}</button></th>'
        for c in columns
    )
    glossary = "".join(
        f"<dt>{html.escape(c.name)}</dt><dd>{html.escape(c.description)}</dd>" for c in columns if c.description
    )
    body = []
    for row in rows:
        cells = []
        for index, (column, entry) in enumerate(zip(columns, row.entries)):
            text = html.escape(entry.text)
            href = (row.links or {}).get(column.key)
            if href:
                text = f'<a href="{html.escape(href)}">{text}</a>'
            sort = "" if entry.sort_value is None else html.escape(str(entry.sort_value))
            classes = ("text" if column.kind == "text" else "num") + (" best" if entry.best else "")
            if index == 0:  # the row's header, with its permalink
                link = f'<a class="permalink" href="#{html.escape(row.row_id)}" aria-label="link to this row">#</a>'
                cells.append(f'<th scope="row" class="{classes}" data-sort="{sort}">{text}{link}</th>')
            else:
                cells.append(f'<td class="{classes}" data-sort="{sort}">{text}</td>')
        body.append(f'<tr id="{html.escape(row.row_id)}" class="{row.kind}">{"".join(cells)}</tr>')
    choices = "".join(
        f'<label><input type="checkbox" checked data-table="{table_id}" data-column="{index}">'
        f"{html.escape(column.name)}</label>"
        for index, column in enumerate(columns)
        if index
    )
    return (
        f'<div class="controls"><label>Filter rows <input type="search" data-filter="{table_id}" '
        f'placeholder="e.g. rac 0.5"></label><details><summary>Columns</summary>{choices}</details></div>'
        f'<div class="table-scroll" tabindex="0" role="region" aria-label="{html.escape(caption)}">'
        f'<table class="leaderboard" id="{table_id}"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + (f'<details class="glossary"><summary>What the columns mean</summary><dl class="settings">{glossary}</dl>'
           "</details>" if glossary else "")
    )


def readable(value) -> str:
    """A setting as a reader writes it: no Python reprs (None, True, dicts)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {readable(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(item) for item in value)
    return str(value)


def settings_list(settings: dict) -> str:
    items = "".join(
        f"<dt>{html.escape(key.replace('_', ' '))}</dt><dd>{html.escape(readable(value))}</dd>"
        for key, value in settings.items()
    )
    return f'<dl class="settings">{items}</dl>'


def footer(cells: list[Cell], rendering_commit: str | None) -> str:
    """Which rac-bench rendered the page (the running one) and which measured its cells (their provenance)."""
    measured = sorted({str(c.provenance.get("packages", {}).get("rac-bench")) for c in cells})
    commits = sorted({str(c.provenance.get("git_commit"))[:12] for c in cells})
    hardware = sorted(
        {
            f"{h.get('cpus')} CPUs ({h.get('machine')}, {h.get('cpu_capability', '?')})"
            + (f", {h['gpu']}" if h.get("gpu") else "")
            for h in (c.provenance.get("hardware", {}) for c in cells)
        }
    )
    rendered = f"rac-bench {__version__}" + (f" at commit {rendering_commit[:12]}" if rendering_commit else "")
    if not cells:
        return f"<footer>Rendered by {html.escape(rendered)}.</footer>"
    return (
        f"<footer>Rendered by {html.escape(rendered)}. Measured with rac-bench {html.escape(', '.join(measured))} "
        f"at commit {html.escape(', '.join(commits))} on {html.escape('; '.join(hardware))}.</footer>"
    )


def page(title: str, body: str, footer_html: str, navigation: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"{navigation}<main><h1>{html.escape(title)}</h1>{body}</main>{footer_html}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )

"""The problem-by-problem page of one model on one task: for every problem, whether dense and each variant got it
right, their thinking tokens and truncation, and dense's and a variant's responses side by side, with filters such as
"dense right, variant wrong". The page is plain HTML with its data inline (one small script switches the variant and
filters rows; without it, the page shows dense against its first variant); `?variant=LABEL` chooses the variant and
`#p-PROBLEM` links to one problem. Beside it, a JSONL file holds every model's responses problem by problem.

With several samples per problem, "right" is the share of its samples that were right and the responses shown are
each model's first sample's; the JSONL file has them all.
"""

from __future__ import annotations

import html
import json

from rac_bench import strict_json
from rac_bench.cells import Cell
from rac_bench.leaderboard.evaluation_settings import evaluation_settings
from rac_bench.leaderboard.html import slug
from rac_bench.leaderboard.page import page

OUTCOMES = {
    "all": "every problem",
    "dense-right-variant-wrong": "dense right, variant wrong",
    "dense-wrong-variant-right": "dense wrong, variant right",
    "both-right": "both right",
    "both-wrong": "both wrong",
    "variant-truncated": "variant truncated",
}

STYLE = """
table.problems td.response { text-align: left; white-space: pre-wrap; min-width: 14rem; max-width: 26rem;
  font-family: ui-monospace, monospace; font-size: 0.8rem; }
table.problems td.prompt { text-align: left; white-space: normal; min-width: 10rem; max-width: 18rem; }
.outcome-right { color: #1a7f37; } .outcome-wrong { color: #b3261e; }
@media (prefers-color-scheme: dark) { .outcome-right { color: #7ee2a8; } .outcome-wrong { color: #ff8a80; } }
"""

SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById("problem-data").textContent);
  const table = document.getElementById("problems"), variant = document.getElementById("variant"),
    outcome = document.getElementById("outcome"), count = document.getElementById("shown");
  const mark = (share) => share >= 1 ? "right" : share <= 0 ? "wrong" : share.toFixed(2) + " right";
  function fill(row, index) {
    const [share, thinking, truncated, response] = data.variants[variant.value][index];
    row.dataset.variant = share; row.dataset.variantTruncated = truncated;
    const cell = row.querySelector(".variant-outcome");
    cell.textContent = mark(share) + (truncated ? ", truncated" : "");
    cell.className = "variant-outcome " + (share >= 0.5 ? "outcome-right" : "outcome-wrong");
    row.querySelector(".variant-thinking").textContent = thinking.toFixed(0);
    row.querySelector(".variant-response").textContent = response;
  }
  const keep = {
    "all": () => true,
    "dense-right-variant-wrong": (d, v) => d >= 0.5 && v < 0.5,
    "dense-wrong-variant-right": (d, v) => d < 0.5 && v >= 0.5,
    "both-right": (d, v) => d >= 0.5 && v >= 0.5, "both-wrong": (d, v) => d < 0.5 && v < 0.5,
    "variant-truncated": (d, v, row) => row.dataset.variantTruncated === "true",
  };
  function update() {
    let shown = 0;
    Array.from(table.tBodies[0].rows).forEach((row, index) => {
      fill(row, index);
      const visible = keep[outcome.value](Number(row.dataset.dense), Number(row.dataset.variant), row);
      row.hidden = !visible; shown += visible;
    });
    document.querySelectorAll(".variant-name").forEach((e) => { e.textContent = variant.value; });
    count.textContent = shown + " of " + table.tBodies[0].rows.length + " problems";
    const url = new URL(location.href);
    url.searchParams.set("variant", variant.value); url.searchParams.set("outcome", outcome.value);
    history.replaceState(null, "", url);
  }
  const asked = new URL(location.href).searchParams;
  if (asked.get("variant") in data.variants) variant.value = asked.get("variant");
  if (asked.get("outcome") in keep) outcome.value = asked.get("outcome");
  variant.addEventListener("change", update); outcome.addEventListener("change", update);
  update();
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
})();
"""


def by_problem(samples: list[dict]) -> dict[str, list[dict]]:
    """problem -> its samples, in sample order."""
    grouped: dict[str, list[dict]] = {}
    for sample in sorted(samples, key=lambda s: s.get("sample_index", 0)):
        grouped.setdefault(str(sample.get("problem_id", sample.get("doc_id"))), []).append(sample)
    return grouped


def _outcome(samples: list[dict]) -> list:
    """[share right, mean thinking tokens, first sample truncated, first sample's response] of one model."""
    share = sum(bool(s["correct"]) for s in samples) / len(samples)
    thinking = sum(float(s["thinking_tokens"]) for s in samples) / len(samples)
    return [share, thinking, bool(samples[0]["truncated"]), str(samples[0].get("response", ""))]


def problems_jsonl(cells: list[Cell], samples: dict[str, list[dict]]) -> str:
    """One line per problem: its prompt and reference, then every model's samples (answer, right, thinking tokens,
    truncated, response), by variant label."""
    grouped = {cell.identity.variant_label: by_problem(samples[cell.key]) for cell in cells}
    first = grouped[cells[0].identity.variant_label]
    lines = []
    for problem, problem_samples in first.items():
        record = {
            "problem_id": problem,
            "prompt": problem_samples[0].get("prompt"),
            "reference": problem_samples[0].get("reference"),
            "models": {
                label: [
                    {key: s.get(key) for key in ("extracted", "correct", "thinking_tokens", "truncated", "response")}
                    for s in per_problem.get(problem, [])
                ]
                for label, per_problem in grouped.items()
            },
        }
        lines.append(strict_json.dumps(record))
    return "\n".join(lines) + "\n"


def _controls(labels: list[str]) -> str:
    options = "".join(f'<option value="{html.escape(label)}">{html.escape(label)}</option>' for label in labels)
    outcomes = "".join(f'<option value="{key}">{html.escape(text)}</option>' for key, text in OUTCOMES.items())
    return (
        '<div class="controls"><label>Variant <select id="variant">' + options + "</select></label>"
        '<label>Show <select id="outcome">' + outcomes + "</select></label>"
        '<span id="shown" role="status"></span></div>'
    )


def _row(problem: str, prompt: str, reference, dense: list, variant: list) -> str:
    def outcome(values: list, name: str) -> str:
        share, _, truncated, _ = values
        text = ("right" if share >= 1 else "wrong" if share <= 0 else f"{share:.2f} right") + (
            ", truncated" if truncated else ""
        )
        kind = "outcome-right" if share >= 0.5 else "outcome-wrong"
        return f'<td class="{name}-outcome {kind}">{text}</td>'

    anchor = f"p-{slug(problem)}"
    return (
        f'<tr id="{anchor}" data-dense="{dense[0]}" data-variant="{variant[0]}">'
        f'<th scope="row"><a href="#{anchor}">{html.escape(problem)}</a></th>'
        f'<td class="prompt">{html.escape(str(prompt))}</td><td>{html.escape(str(reference))}</td>'
        + outcome(dense, "dense")
        + outcome(variant, "variant")
        + f'<td class="response">{html.escape(dense[3])}</td>'
        + f'<td class="response variant-response">{html.escape(variant[3])}</td>'
        + f'<td>{dense[1]:.0f}</td><td class="variant-thinking">{variant[1]:.0f}</td></tr>'
    )


def problems_section(cells: list[Cell], samples: dict[str, list[dict]], jsonl_name: str) -> str:
    """The page's body: controls, the table (dense against the first variant), the data for the others."""
    dense = next((cell for cell in cells if cell.identity.is_dense), None)
    if dense is None:
        return ""
    variants = [cell for cell in cells if not cell.identity.is_dense]
    dense_problems = by_problem(samples[dense.key])
    outcomes = {
        cell.identity.variant_label: [_outcome(by_problem(samples[cell.key]).get(p, [])) for p in dense_problems]
        for cell in variants
        if all(p in by_problem(samples[cell.key]) for p in dense_problems)
    }
    if not outcomes:
        return ""
    labels = list(outcomes)
    rows = "".join(
        _row(problem, group[0].get("prompt", ""), group[0].get("reference"), _outcome(group), outcomes[labels[0]][i])
        for i, (problem, group) in enumerate(dense_problems.items())
    )
    first = html.escape(labels[0])
    head = (
        '<thead><tr><th scope="col">problem</th><th scope="col">prompt</th><th scope="col">reference</th>'
        '<th scope="col">dense</th>'
        f'<th scope="col"><span class="variant-name">{first}</span></th>'
        '<th scope="col">dense\'s response</th>'
        f'<th scope="col"><span class="variant-name">{first}</span>\'s response</th>'
        '<th scope="col">dense thinking tokens</th>'
        f'<th scope="col"><span class="variant-name">{first}</span> thinking tokens</th></tr></thead>'
    )
    data = json.dumps({"variants": outcomes}).replace("</", "<\\/")
    return (
        _controls(labels)
        + '<div class="table-scroll"><table class="leaderboard problems" id="problems">'
        + "<caption>Every problem: dense against a variant, the first sample's responses side by side</caption>"
        + head
        + f"<tbody>{rows}</tbody></table></div>"
        + f'<p class="note">Every response of every model, problem by problem: '
        f'<a href="{html.escape(jsonl_name)}" download>{html.escape(jsonl_name)}</a> (JSON lines)</p>'
        + f'<script type="application/json" id="problem-data">{data}</script>'
        + f"<style>{STYLE}</style><script>{SCRIPT}</script>"
    )


def problems_link(stem: str) -> str:
    return (
        f'<p class="note"><a href="{stem}-problems.html">Problem by problem</a>: dense\'s and each variant\'s '
        "responses to the same problem side by side, with filters such as dense right, variant wrong</p>"
    )


def problems_files(
    cells: list[Cell], samples: dict[str, list[dict]], stem: str, title: str, footer_html: str
) -> dict[str, str]:
    """`STEM-problems.html` and `STEM-problems.jsonl` for one model on one task (none without dense, a variant
    and the samples of every cell)."""
    if not all(samples.get(cell.key) for cell in cells):
        return {}
    jsonl_name = f"{stem}-problems.jsonl"
    body = problems_section(cells, samples, jsonl_name)
    if not body:
        return {}
    body += "<h2>How these numbers were made</h2>" + evaluation_settings(cells)
    heading = f"{title}: problem by problem"
    navigation = (
        f'<nav aria-label="site"><a href="../../index.html">All models</a>'
        f'<a href="{stem}.html">{html.escape(title)}</a><span>problem by problem</span></nav>'
    )
    files = {f"{stem}-problems.html": page(heading, body, footer_html, navigation)}
    return {**files, jsonl_name: problems_jsonl(cells, samples)}

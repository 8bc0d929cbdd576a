"""How often rac-bench's math answer checking agrees with public answer-checking test suites.

    python benchmarks/answer_agreement.py --math-verify-tests PATH/TO/Math-Verify/tests [--data-dir ../shared/data]

1. math-verify's own test cases: every `(gold, pred, expected)` row of its `pytest.mark.parametrize` tables,
   read with `ast` (never imported or copied). rac-bench reads only boxed answers, so a row counts where
   both sides are a boxed answer or one math span (`$...$`, `\\(...\\)`, `\\[...\\]`); free text is skipped.
2. The answer forms of MATH-500, AIME 2024/2025 and AMC 2023 (`--data-dir`): each reference solution's boxed
   answer against its own answer and against the next problem's (a different answer); each integer answer
   as a model writes it (`016`, `$16$`, `16.`, `\\text{16}`) against itself and against the next answer.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

from tabulate import tabulate

from rac_bench.scoring.latex import normalize_answer
from rac_bench.scoring.math_answer import extract_math_answer, math_equal
from rac_bench.scoring.string_rules import comparison_key

_ASSIGNED = re.compile(r"^[A-Za-z]\s*=\s*")
_MATH_SPAN = re.compile(r"\s*(?:\$\$?([^$]*)\$\$?|\\\((.*)\\\)|\\\[(.*)\\\])\s*", re.DOTALL)


def answer_of(text: str) -> str | None:
    """What rac-bench would read as the answer in `text`, or None for free text."""
    if "\\boxed" in text or "\\fbox" in text:
        return extract_math_answer(text)
    span = _MATH_SPAN.fullmatch(text)
    return next((group for group in span.groups() if group is not None), None) if span else None


def parametrized_rows(test_file: Path) -> list[tuple[str, str, bool]]:
    """The (gold, pred, expected) rows of each parametrize table whose only arguments are those three."""
    rows = []
    for node in ast.walk(ast.parse(test_file.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize"):
            continue
        names = [name.strip() for name in ast.literal_eval(node.args[0]).split(",")]
        if sorted(names) != ["expected", "gold", "pred"]:
            continue
        try:
            values = ast.literal_eval(node.args[1])
        except ValueError:  # a table built by code, not literals
            continue
        rows += [
            (row[names.index("gold")], row[names.index("pred")], bool(row[names.index("expected")])) for row in values
        ]
    return rows


def suite_agreement(tests_dir: Path) -> dict:
    counts = {"rows": 0, "read": 0, "agree": 0, "we accept, suite rejects": 0, "we reject, suite accepts": 0}
    for test_file in sorted(tests_dir.glob("test_*.py")):
        for gold, pred, expected in parametrized_rows(test_file):
            counts["rows"] += 1
            gold_answer, predicted = answer_of(gold), answer_of(pred)
            if gold_answer is None or predicted is None:
                continue
            counts["read"] += 1
            ours = math_equal(predicted, gold_answer)
            counts["agree"] += ours == expected
            counts["we accept, suite rejects"] += ours and not expected
            counts["we reject, suite accepts"] += expected and not ours
    return counts


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _same_answer_text(first: str, second: str) -> bool:
    """The two answers as written differ only in notation (`5` and `x=5` are one answer)."""
    keys = [comparison_key(normalize_answer(_ASSIGNED.sub("", answer))) for answer in (first, second)]
    return keys[0] == keys[1]


def _different_pairs(answers: list[str]) -> list[tuple[int, str]]:
    """(index, the next answer) wherever the two answers differ."""
    pairs = [(i, answers[(i + 1) % len(answers)]) for i in range(len(answers))]
    return [(i, other) for i, other in pairs if not _same_answer_text(answers[i], other)]


def integer_forms(answer: str) -> list[str]:
    return [
        f"\\boxed{{{int(answer):03d}}}",
        f"$\\boxed{{{answer}}}$",
        f"\\boxed{{{answer}.}}",
        f"\\boxed{{\\text{{{answer}}}}}",
    ]


def dataset_agreement(data_dir: Path) -> list[list]:
    table = []
    for name in ("math500.jsonl", "aime2024.jsonl"):
        records = [r for r in _rows(data_dir / name) if r.get("solution") and extract_math_answer(r["solution"])]
        answers = [str(r["answer"]) for r in records]
        own = sum(math_equal(extract_math_answer(r["solution"]), r["answer"]) for r in records)
        pairs = _different_pairs(answers)
        false = sum(math_equal(extract_math_answer(records[i]["solution"]), other) for i, other in pairs)
        table.append([f"{name} solutions", f"{own}/{len(records)}", f"{false}/{len(pairs)}"])
    for name in ("aime2024.jsonl", "aime2025.jsonl", "amc23.jsonl"):
        answers = [str(r["answer"]) for r in _rows(data_dir / name)]
        pairs = _different_pairs(answers)
        forms = [(form, answer) for answer in answers for form in integer_forms(answer)]
        own = sum(math_equal(extract_math_answer(form), answer) for form, answer in forms)
        false = sum(
            math_equal(extract_math_answer(form), other) for i, other in pairs for form in integer_forms(answers[i])
        )
        table.append([f"{name} answer forms", f"{own}/{len(forms)}", f"{false}/{len(pairs) * 4}"])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math-verify-tests", type=Path, help="the tests/ folder of a Math-Verify checkout")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    if args.math_verify_tests:
        counts = suite_agreement(args.math_verify_tests)
        print(tabulate([counts.values()], headers=list(counts), tablefmt="github"), end="\n\n")
    table = dataset_agreement(args.data_dir)
    print(tabulate(table, headers=["answers", "equal to their own", "equal to a different one"], tablefmt="github"))


if __name__ == "__main__":
    main()

"""Math answers: extract the last \\boxed{...}, normalise the LaTeX, decide equivalence.

Equivalence is decided first by comparing normalised strings (most answers match here, instantly), then by
math-verify's symbolic comparison, which runs in a sandboxed worker under a time limit. Raw model text never
reaches eval or an unsafe sympify.
"""

from __future__ import annotations

import re

from rac_bench.scoring.sandbox import SandboxedChecker

MAX_SYMBOLIC_LENGTH = 1000  # longer answers are compared as strings only
_BOXED = re.compile(r"\\(?:boxed|fbox)")


def extract_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...} (nested braces allowed), or of `\\boxed 5`."""
    matches = list(_BOXED.finditer(text))
    for match in reversed(matches):
        rest = text[match.end() :]
        if rest.startswith("{"):
            depth = 0
            for index, char in enumerate(rest):
                depth += {"{": 1, "}": -1}.get(char, 0)
                if depth == 0:
                    return rest[1:index].strip()
            continue  # unbalanced: try an earlier box
        if rest.startswith(" "):
            token = re.match(r"\s+([^\s$]+)", rest)
            if token:
                return token.group(1).rstrip(".")
    return None


def _strip_text_wrappers(text: str) -> str:
    """\\text{abc} -> abc (also \\textbf, \\mbox, \\mathrm), keeping the words."""
    return re.sub(r"\\(?:text|textbf|mbox|mathrm|textnormal)\s*\{([^{}]*)\}", r"\1", text)


_UNITS = (
    r"(?:degrees?|cm|m|km|mm|inches|inch|in|feet|foot|ft|units?|sq|square|cents?|dollars?|hours?|minutes?|"
    r"seconds?|days?|miles?|meters?|mph|pounds?|ounces?|grams?|kg|g|liters?|ml|students?|people|ways|points?)"
)


def normalize_answer(answer: str) -> str:
    """A canonical string for comparing answers as the datasets intend them."""
    text = answer.strip()
    text = text.strip("$").strip()
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\:|(?<!\\)\\ ", "", text)
    text = text.replace("\\displaystyle", "")
    text = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|°", "", text)
    text = text.replace("\\%", "").replace("%", "")
    text = _strip_text_wrappers(text)
    text = re.sub(rf"(?<=[\d}}])\s*{_UNITS}(?:\^?\{{?\d\}}?)?\s*$", "", text)
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text.replace(" ", "")):
        text = text.replace(",", "")
    text = re.sub(r"^[a-zA-Z]\s*=\s*(?!.*=)", "", text)  # "x = 5" -> "5" (not in "x=1, y=2")
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)  # \frac12 -> \frac{1}{2}
    text = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)(?!\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\s+", "", text)
    text = text.rstrip(".")
    if re.fullmatch(r"-?\d+\.\d*", text):
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def _math_verify_equal(gold: str, predicted: str) -> bool:
    """Runs inside the sandbox worker. Timeouts are enforced from outside, so math-verify's own are off."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    gold_parsed = parse(f"${gold}$", extraction_config=configs, parsing_timeout=None)
    predicted_parsed = parse(f"${predicted}$", extraction_config=configs, parsing_timeout=None)
    if not gold_parsed or not predicted_parsed:
        return False
    return bool(verify(gold_parsed, predicted_parsed, timeout_seconds=None))


def _warm_up() -> None:
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _math_verify_equal("\\frac{1}{2}", "0.5")


_CHECKER: SandboxedChecker | None = None


def checker() -> SandboxedChecker:
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = SandboxedChecker(_warm_up)
    return _CHECKER


def math_equal(extracted: str | None, reference: str) -> bool:
    if extracted is None:
        return False
    predicted, gold = normalize_answer(extracted), normalize_answer(str(reference))
    if not predicted:
        return False
    if predicted == gold:
        return True
    if len(predicted) > MAX_SYMBOLIC_LENGTH or len(gold) > MAX_SYMBOLIC_LENGTH:
        return False
    return bool(checker().call(_math_verify_equal, gold, predicted))

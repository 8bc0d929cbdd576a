"""Find the `\\boxed{...}` answers in model output, in one linear pass.

Model output is untrusted and can be long and malformed: a pruned model that loops writes thousands of
unclosed `\\boxed{`. Braces are matched once, left to right, with a stack, so finding every box costs time
linear in the text however its braces nest or fail to close; nothing is rescanned. `\\{` and `\\}` are
LaTeX's literal braces (set delimiters) and do not group, as in LaTeX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.DOTALL)  # \x is one token, so \{ \} \\ never count as braces
_SPACE = re.compile(r"\s*")
_BARE_TOKEN = re.compile(r"[^\s$]+")  # `\boxed 5`
# What may stand between two boxes of one answer: spaces, punctuation, math delimiters, \quad, "and".
_CONNECTOR = re.compile(
    r"(?:\s|[,;&$~]|\\[,;:! ()\[\]\\]|\\q?quad(?![A-Za-z])|\\(?:text|mbox|textrm)\{\s*and\s*\}|\band\b)*"
)
MAX_CONNECTOR_CHARS = 80  # a longer gap is prose: the boxes are separate answers and the last one counts


@dataclass(frozen=True)
class Box:
    start: int  # of `\boxed`
    end: int  # just past the closing brace (or the bare token)
    content: str


def _closing_braces(text: str) -> dict[int, int]:
    """Position of each `{` that is closed -> position of its `}`."""
    closing, open_positions = {}, []
    for token in _BRACE_OR_ESCAPE.finditer(text):
        if token.group() == "{":
            open_positions.append(token.start())
        elif token.group() == "}" and open_positions:
            closing[open_positions.pop()] = token.start()
    return closing


def _innermost_content(text: str, opening: int, closing: dict[int, int]) -> str:
    """`\\boxed{\\boxed{5}}` -> `5`: unwrap boxes that are the whole content of their box."""
    close = closing[opening]
    while True:
        inner = _SPACE.match(text, opening + 1).end()
        box = _BOX.match(text, inner)
        if box is None or not text.startswith("{", box.end()) or box.end() not in closing:
            return text[opening + 1 : close].strip()
        inner_close = closing[box.end()]
        if text[inner_close + 1 : close].strip():
            return text[opening + 1 : close].strip()
        opening, close = box.end(), inner_close


def top_level_boxes(text: str) -> list[Box]:
    """Every closed box that is not inside another box, in order; unclosed boxes are skipped."""
    boxes: list[Box] = []
    closing: dict[int, int] | None = None
    covered_until = 0
    for match in _BOX.finditer(text):
        if match.start() < covered_until:
            continue
        after = _SPACE.match(text, match.end()).end()
        if text.startswith("{", after):
            closing = _closing_braces(text) if closing is None else closing
            if after in closing:
                covered_until = closing[after] + 1
                boxes.append(Box(match.start(), covered_until, _innermost_content(text, after, closing)))
        elif after > match.end():
            token = _BARE_TOKEN.match(text, after)
            if token:
                boxes.append(Box(match.start(), token.end(), token.group().rstrip(".")))
    return boxes


def extract_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...} (nested braces allowed), or of `\\boxed 5`."""
    boxes = top_level_boxes(text)
    return boxes[-1].content if boxes else None


def final_boxes(text: str) -> list[str]:
    """The last box and the boxes just before it that only connectors separate from it (`\\boxed{1},
    \\boxed{2}` or `\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}`): one answer written in parts."""
    boxes = top_level_boxes(text)
    group = boxes[-1:]
    for earlier in reversed(boxes[:-1]):
        gap_start, gap_end = earlier.end, group[-1].start
        if gap_end - gap_start > MAX_CONNECTOR_CHARS or not _CONNECTOR.fullmatch(text, gap_start, gap_end):
            break
        group.append(earlier)
    return [box.content for box in reversed(group)]

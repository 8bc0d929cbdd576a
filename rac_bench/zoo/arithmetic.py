"""The embedded reasoning task: left-to-right evaluation of +/- chains, one checked step per operation.

Every step is written with its inverse as a check, `48+5=53?48.`: 53-5 gives back 48, so the step stands (`.`).
Training traces carry injected slips that the check catches, and the step is redone:
`48+5=54?49!48+5=53?48.` (54-5 is 49, not 48: `!`, again). The slipped result is never a training target
(see `TracePiece.learned`), so the model learns to check and to recover, not to slip. A model that makes more
mistakes therefore thinks longer, and one whose mistakes repeat retries until the token limit.

Harder problems have more operations, so the chain of thought grows with difficulty. Every running value
stays in [0, 99], so a step is a two-digit addition or subtraction the tiny model can learn exactly.
Problems are generated from a seed; the evaluation and calibration splits come from their own seeds and
the training stream skips every problem that is in either, so the three are disjoint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

from rac_bench.scoring.self_corrections import SelfCorrectionCounter
from rac_bench.scoring.thinking import THINK_CLOSE, split_thinking

MAX_LEVEL = 6
MAX_VALUE = 99
EVAL_SEED = 2025
CALIBRATION_SEED = 4096
EVAL_SIZE = 600
CALIBRATION_SIZE = 4096
SLIP_RATE = 0.2  # chance that a step attempt in a training trace slips (and is caught and redone)
SLIP_OFFSETS = (-10, -2, -1, 1, 2, 10)  # how far a slipped result lands from the true one
CHECK_PASSED, CHECK_FAILED = ".", "!"


@dataclass(frozen=True)
class TracePiece:
    text: str
    learned: bool  # False for a slipped result: the model reads it in context but is never trained to write it


def apply(value: int, op: str, operand: int) -> int:
    return value + operand if op == "+" else value - operand


def step_attempt(value: int, op: str, operand: int, result: int) -> tuple[str, str, str]:
    """A step attempt as (what comes before the result, the result, the check that follows it)."""
    inverse = result - operand if op == "+" else result + operand
    verdict = CHECK_PASSED if inverse == value else CHECK_FAILED
    return f"{value}{op}{operand}=", str(result), f"?{inverse}{verdict}"


def count_retries(response: str) -> int:
    """Failed checks (each one followed by a redone step) in a response's thinking (up to its last `</think>`, as
    the scorer reads it), or in all of it when the thinking never closed. Linear in the response's length."""
    return split_thinking(response).thinking.count(CHECK_FAILED)


# the task's self-corrections: its failed checks, each followed by a redone step
RETRIES = SelfCorrectionCounter(lambda response, _markers: count_retries(response), None, "retries per response")


@dataclass(frozen=True)
class ArithmeticProblem:
    problem_id: str
    level: int
    start: int
    steps: tuple[tuple[str, int], ...]

    @property
    def expression(self) -> str:
        return str(self.start) + "".join(f"{op}{operand}" for op, operand in self.steps)

    @property
    def question(self) -> str:
        return f"Compute {self.expression} from left to right."

    @property
    def answer(self) -> int:
        value = self.start
        for op, operand in self.steps:
            value = apply(value, op, operand)
        return value

    @property
    def response(self) -> str:
        """The assistant turn with no slip: thinking, then the bare answer."""
        return "".join(piece.text for piece in self.trace(random.Random(0), slip_rate=0.0))

    def trace(self, rng: random.Random, slip_rate: float = SLIP_RATE) -> list[TracePiece]:
        """An assistant turn in which each step attempt slips with probability `slip_rate`; every slip is
        caught by its check and the step redone (a redo may slip again)."""
        pieces, value = [TracePiece("<think>", True)], self.start
        for op, operand in self.steps:
            result = apply(value, op, operand)
            offsets = [d for d in SLIP_OFFSETS if 0 <= result + d <= MAX_VALUE and 0 <= value + d <= MAX_VALUE]
            while offsets and rng.random() < slip_rate:
                before, slipped, check = step_attempt(value, op, operand, result + rng.choice(offsets))
                pieces += [TracePiece(before, True), TracePiece(slipped, False), TracePiece(check, True)]
            pieces.append(TracePiece("".join(step_attempt(value, op, operand, result)), True))
            value = result
        pieces.append(TracePiece(f"{THINK_CLOSE}{value}", True))
        return pieces

    def to_record(self) -> dict:
        return {
            "id": self.problem_id,
            "level": self.level,
            "question": self.question,
            "answer": str(self.answer),
            "solution": self.response,
        }


def sample_problem(rng: random.Random, level: int, problem_id: str = "") -> ArithmeticProblem:
    """A chain of `level` operations whose running value never leaves [0, MAX_VALUE]."""
    value = rng.randint(0, MAX_VALUE)
    start, steps = value, []
    for _ in range(level):
        op = rng.choice("+-")
        if op == "+" and value == MAX_VALUE:
            op = "-"
        if op == "-" and value == 0:
            op = "+"
        operand = rng.randint(1, MAX_VALUE - value) if op == "+" else rng.randint(1, value)
        value = apply(value, op, operand)
        steps.append((op, operand))
    return ArithmeticProblem(problem_id, level, start, tuple(steps))


def _fixed_split(seed: int, size: int, prefix: str, excluded: frozenset[str] = frozenset()) -> list[ArithmeticProblem]:
    rng, seen, problems = random.Random(seed), set(excluded), []
    while len(problems) < size:
        level = len(problems) % MAX_LEVEL + 1
        problem = sample_problem(rng, level, f"{prefix}-{len(problems)}")
        if problem.expression not in seen:
            seen.add(problem.expression)
            problems.append(problem)
    return problems


def evaluation_problems() -> list[ArithmeticProblem]:
    """The fixed evaluation set: EVAL_SIZE problems, levels 1..MAX_LEVEL in equal shares."""
    return _fixed_split(EVAL_SEED, EVAL_SIZE, "eval")


def calibration_problems() -> list[ArithmeticProblem]:
    """Prompts for calibration (SparseGPT's inputs, RAC's trace prompts); disjoint from evaluation."""
    held_out = frozenset(p.expression for p in evaluation_problems())
    return _fixed_split(CALIBRATION_SEED, CALIBRATION_SIZE, "calib", held_out)


def training_stream(seed: int, level_weights: list[float] | None = None) -> Iterator[ArithmeticProblem]:
    """An endless stream of training problems that never repeats an evaluation or calibration problem."""
    held_out = {p.expression for p in evaluation_problems()} | {p.expression for p in calibration_problems()}
    weights = level_weights or [1.0] * MAX_LEVEL
    rng = random.Random(seed)
    index = 0
    while True:
        level = rng.choices(range(1, MAX_LEVEL + 1), weights=weights)[0]
        problem = sample_problem(rng, level, f"train-{index}")
        if problem.expression not in held_out:
            index += 1
            yield problem

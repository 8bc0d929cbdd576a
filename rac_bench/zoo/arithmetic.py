"""The embedded reasoning task: left-to-right evaluation of +/- chains, one written step per operation.

Harder problems have more operations, so the chain of thought grows with difficulty. Every running value
stays in [0, 99], so a step is a two-digit addition or subtraction the tiny model can learn exactly.
Problems are generated from a seed; the evaluation and calibration splits come from their own seeds and
the training stream skips every problem that is in either, so the three are disjoint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

MAX_LEVEL = 6
MAX_VALUE = 99
EVAL_SEED = 2025
CALIBRATION_SEED = 4096
EVAL_SIZE = 600
CALIBRATION_SIZE = 256


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
    def chain_of_thought(self) -> str:
        lines, value = [], self.start
        for op, operand in self.steps:
            result = value + operand if op == "+" else value - operand
            lines.append(f"{value}{op}{operand}={result}")
            value = result
        return ";".join(lines)

    @property
    def answer(self) -> int:
        value = self.start
        for op, operand in self.steps:
            value = value + operand if op == "+" else value - operand
        return value

    @property
    def response(self) -> str:
        """The assistant turn the model is trained to produce: thinking, then the bare answer."""
        return f"<think>{self.chain_of_thought}</think>{self.answer}"

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
        value = value + operand if op == "+" else value - operand
        steps.append((op, operand))
    return ArithmeticProblem(problem_id, level, start, tuple(steps))


def _fixed_split(seed: int, size: int, prefix: str) -> list[ArithmeticProblem]:
    rng, seen, problems = random.Random(seed), set(), []
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
    held_out = {p.expression for p in evaluation_problems()}
    return [p for p in _fixed_split(CALIBRATION_SEED, CALIBRATION_SIZE + 64, "calib") if p.expression not in held_out][
        :CALIBRATION_SIZE
    ]


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

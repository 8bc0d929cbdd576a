import random

from rac_bench.zoo.arithmetic import (
    MAX_LEVEL,
    MAX_VALUE,
    calibration_problems,
    evaluation_problems,
    sample_problem,
    training_stream,
)


def evaluate_chain(text: str) -> int:
    """Independent left-to-right evaluation of '12+3-4' without eval()."""
    number, sign, total = "", 1, 0
    for char in text + "+":
        if char.isdigit():
            number += char
        else:
            total += sign * int(number)
            number, sign = "", (1 if char == "+" else -1)
    return total


def test_generation_is_deterministic():
    assert [p.to_record() for p in evaluation_problems()] == [p.to_record() for p in evaluation_problems()]
    first = [p.expression for p, _ in zip(training_stream(7), range(50))]
    assert first == [p.expression for p, _ in zip(training_stream(7), range(50))]
    assert first != [p.expression for p, _ in zip(training_stream(8), range(50))]


def test_evaluation_set_is_large_and_covers_every_level():
    problems = evaluation_problems()
    assert len(problems) >= 500
    assert len({p.expression for p in problems}) == len(problems)
    levels = [p.level for p in problems]
    assert {levels.count(level) for level in range(1, MAX_LEVEL + 1)} == {len(problems) // MAX_LEVEL}


def test_splits_are_disjoint():
    evaluation = {p.expression for p in evaluation_problems()}
    calibration = {p.expression for p in calibration_problems()}
    assert not evaluation & calibration
    training = {p.expression for p, _ in zip(training_stream(0), range(20000))}
    assert not training & (evaluation | calibration)


def test_chain_of_thought_is_correct_and_grows_with_level():
    rng = random.Random(0)
    for level in range(1, MAX_LEVEL + 1):
        for _ in range(200):
            problem = sample_problem(rng, level)
            steps = problem.chain_of_thought.split(";")
            assert len(steps) == level
            running = problem.start
            for step in steps:
                left, result = step.split("=")
                assert evaluate_chain(left) == int(result)
                assert left.startswith(str(running))
                running = int(result)
                assert 0 <= running <= MAX_VALUE
            assert running == problem.answer == evaluate_chain(problem.expression)
            assert problem.response == f"<think>{problem.chain_of_thought}</think>{problem.answer}"
    lengths = [len(sample_problem(rng, level).chain_of_thought) for level in (1, MAX_LEVEL) for _ in range(50)]
    assert sum(lengths[50:]) > 3 * sum(lengths[:50])

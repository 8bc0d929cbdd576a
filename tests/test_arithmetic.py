import random
import re

from rac_bench.zoo.arithmetic import (
    MAX_LEVEL,
    MAX_VALUE,
    calibration_problems,
    count_retries,
    evaluation_problems,
    sample_problem,
    training_stream,
)

ATTEMPT = re.compile(r"(\d+)([+-])(\d+)=(\d+)\?(\d+)([.!])")


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


def attempts(response: str) -> list[tuple[int, str, int, int, int, str]]:
    """(value, op, operand, result, check, verdict) of every step attempt, checked to tile the thinking."""
    thinking, answer = response.removeprefix("<think>").split("</think>")
    found = ATTEMPT.findall(thinking)
    assert "".join("".join(a[:3]) + "=" + a[3] + "?" + "".join(a[4:]) for a in found) == thinking
    return [(int(v), op, int(b), int(r), int(c), verdict) for v, op, b, r, c, verdict in found]


def test_generation_is_deterministic():
    assert [p.to_record() for p in evaluation_problems()] == [p.to_record() for p in evaluation_problems()]
    first = [p.expression for p, _ in zip(training_stream(7), range(50))]
    assert first == [p.expression for p, _ in zip(training_stream(7), range(50))]
    assert first != [p.expression for p, _ in zip(training_stream(8), range(50))]
    problem = evaluation_problems()[-1]
    assert problem.trace(random.Random(3)) == problem.trace(random.Random(3))


def test_evaluation_set_is_large_and_covers_every_level():
    problems = evaluation_problems()
    assert len(problems) >= 500
    assert len({p.expression for p in problems}) == len(problems)
    levels = [p.level for p in problems]
    assert {levels.count(level) for level in range(1, MAX_LEVEL + 1)} == {len(problems) // MAX_LEVEL}


def test_splits_are_disjoint_and_calibration_is_large():
    evaluation = {p.expression for p in evaluation_problems()}
    calibration = {p.expression for p in calibration_problems()}
    assert len(calibration) == len(calibration_problems()) >= 4096
    assert not evaluation & calibration
    training = {p.expression for p, _ in zip(training_stream(0), range(20000))}
    assert not training & (evaluation | calibration)


def test_clean_chain_of_thought_is_correct_checked_and_grows_with_level():
    rng = random.Random(0)
    for level in range(1, MAX_LEVEL + 1):
        for _ in range(200):
            problem = sample_problem(rng, level)
            steps = attempts(problem.response)
            assert len(steps) == level
            running = problem.start
            for (value, op, operand, result, check, verdict), expected in zip(steps, problem.steps):
                assert (value, (op, operand), verdict) == (running, expected, ".")
                assert result == evaluate_chain(f"{value}{op}{operand}")
                assert check == value  # the inverse step gives the value back
                running = result
                assert 0 <= running <= MAX_VALUE
            assert running == problem.answer == evaluate_chain(problem.expression)
            assert problem.response.endswith(f"</think>{problem.answer}")
            assert count_retries(problem.response) == 0
    lengths = [len(sample_problem(rng, level).response) for level in (1, MAX_LEVEL) for _ in range(50)]
    assert sum(lengths[50:]) > 2.5 * sum(lengths[:50])


def test_injected_slips_are_caught_redone_and_lengthen_the_chain():
    rng, problems = random.Random(1), [sample_problem(random.Random(i), MAX_LEVEL) for i in range(300)]
    clean, slipped = 0, 0
    for problem in problems:
        pieces = problem.trace(rng, slip_rate=0.3)
        response = "".join(piece.text for piece in pieces)
        steps = attempts(response)
        failed = [s for s in steps if s[5] == "!"]
        assert count_retries(response) == len(failed) == sum(not piece.learned for piece in pieces)
        for value, op, operand, result, check, verdict in steps:
            assert evaluate_chain(f"{result}{'-' if op == '+' else '+'}{operand}") == check  # the inverse step
            assert (verdict == ".") == (check == value) == (result == evaluate_chain(f"{value}{op}{operand}"))
        passed = [s for s in steps if s[5] == "."]
        assert [(s[1], s[2]) for s in passed] == list(problem.steps)
        assert [s[0] for s in passed] == [problem.start] + [s[3] for s in passed[:-1]]
        assert response.endswith(f"</think>{problem.answer}")
        clean, slipped = clean + len(problem.response), slipped + len(response)
    assert slipped > 1.2 * clean


def test_count_retries_reads_only_the_thinking():
    assert count_retries("<think>48+5=54?49!48+5=53?48.</think>53") == 1
    assert count_retries("<think>1+1=3?2!1+1=3?2!1+1=3?2!1+1=") == 3  # never closed: a loop cut by the limit
    assert count_retries("<think>1+1=2?1.</think>2!") == 0
    assert count_retries("<think>1+1=3?2!</think>3!1+1=2?1.</think>2") == 2  # the last </think> closes it
    assert count_retries("") == 0

"""Metrics over per-sample results, each checkable against its formula.

Samples are grouped by problem. accuracy is avg@n: the mean over a problem's n samples, then over problems.
Its 95% confidence interval is a percentile bootstrap over problems (the unit that was sampled), seeded so
the same results always give the same interval.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from dataclasses import dataclass

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    standard_error: float

    def to_dict(self) -> dict:
        return vars(self)


def bootstrap_mean(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Estimate:
    """Mean with a 95% percentile-bootstrap interval and the bootstrap standard error."""
    if not values:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    rng = random.Random(seed)
    size = len(values)
    means = sorted(sum(rng.choices(values, k=size)) / size for _ in range(resamples))
    return Estimate(
        value=sum(values) / size,
        low=means[int(0.025 * resamples)],
        high=means[int(0.975 * resamples) - 1],
        standard_error=statistics.pstdev(means),
    )


def per_problem_means(problem_ids: list, values: list[float]) -> list[float]:
    groups: dict = defaultdict(list)
    for problem, value in zip(problem_ids, values):
        groups[problem].append(value)
    return [sum(group) / len(group) for group in groups.values()]


def accuracy(problem_ids: list, correct: list[bool]) -> Estimate:
    """avg@n with a bootstrap CI over problems."""
    return bootstrap_mean(per_problem_means(problem_ids, [float(c) for c in correct]))


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")

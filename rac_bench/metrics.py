"""Metrics over per-sample results, each checkable against its formula.

Samples are grouped by problem, the unit that was sampled. accuracy is avg@n: the mean over a problem's n samples,
then over problems.

Intervals (95%, benchmarks/coverage.py measures their coverage):
- Shares (accuracy, truncation, pass@k, maj@k: per-problem values in [0, 1]) get a Clopper–Pearson interval with
  the problems as trials and the per-problem values' sum as successes. With one sample per problem it is the exact
  binomial interval: never narrower than nominal coverage, and never of zero width (1.000 of 600 is [0.994, 1]),
  where the percentile bootstrap collapses to a point near 0 and 1. With several samples per problem it is
  conservative: a problem's mean varies less than one Bernoulli draw.
- Everything else (thinking tokens, self-corrections, and paired differences and ratios against dense) keeps the
  percentile bootstrap over problems, seeded so the same results always give the same interval.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

import numpy

from rac_bench.errors import RacBenchError

BOOTSTRAP_RESAMPLES = 2000


class MetricError(RacBenchError):
    """A metric asked of data that cannot give it (e.g. pass@k with k larger than the samples)."""


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    standard_error: float


def bootstrap_mean(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Estimate:
    """Mean with a 95% percentile-bootstrap interval and the bootstrap standard error."""
    if not values:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    data = numpy.asarray(values, dtype=float)
    draws = numpy.random.default_rng(seed).integers(0, len(data), size=(resamples, len(data)))
    means = numpy.sort(data[draws].mean(axis=1))
    return Estimate(
        value=float(data.mean()),
        low=float(means[int(0.025 * resamples)]),
        high=float(means[int(0.975 * resamples) - 1]),
        standard_error=float(means.std()),
    )


def proportion(values: list[float]) -> Estimate:
    """The mean of per-problem shares in [0, 1] with its Clopper–Pearson 95% interval (the problems as trials) and
    the binomial standard error."""
    from scipy.stats import beta  # imported here: light commands (leaderboard, gate) never need it

    if not values:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    trials, successes = len(values), float(sum(values))
    share = successes / trials
    low = 0.0 if successes <= 0 else float(beta.ppf(0.025, successes, trials - successes + 1))
    high = 1.0 if successes >= trials else float(beta.ppf(0.975, successes + 1, trials - successes))
    return Estimate(share, min(low, share), max(high, share), (share * (1 - share) / trials) ** 0.5)


def per_problem_scores(problem_ids: list, values: list[float]) -> dict:
    """problem -> mean of its samples' values."""
    return {problem: sum(group) / len(group) for problem, group in _by_problem(problem_ids, values).items()}


def per_problem_means(problem_ids: list, values: list[float]) -> list[float]:
    return list(per_problem_scores(problem_ids, values).values())


def per_problem_counts(problem_ids: list) -> list[int]:
    return [len(group) for group in _by_problem(problem_ids, problem_ids).values()]


def accuracy(problem_ids: list, correct: list[bool]) -> Estimate:
    """avg@n with its Clopper–Pearson interval over problems."""
    return proportion(per_problem_means(problem_ids, [float(c) for c in correct]))


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def pass_at_k(n: int, correct: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021): 1 - C(n - c, k) / C(n, k), as a stable product."""
    if not 0 < k <= n:
        raise MetricError(f"pass@{k} needs 1 <= k <= n samples per problem; got k={k} with n={n}")
    if n - correct < k:
        return 1.0
    product = 1.0
    for i in range(n - correct + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def _by_problem(problem_ids: list, values: list) -> dict:
    groups: dict = defaultdict(list)
    for problem, value in zip(problem_ids, values):
        groups[problem].append(value)
    return groups


def pass_at_k_estimate(problem_ids: list, correct: list[bool], k: int) -> Estimate:
    groups = _by_problem(problem_ids, correct)
    return proportion([pass_at_k(len(g), sum(g), k) for g in groups.values()])


MAX_VOTE_COMPARISONS = 256  # equivalence checks per problem: each may reach math-verify's time limit


def majority_vote_correct(answers: list, correct: list[bool], equal=None) -> bool:
    """Whether the answer most samples gave (ties: the earliest) is correct; no answer never wins. With `equal`
    (the scorer's equivalence), answers vote together when equivalent (`\\dfrac{1}{2}` and `\\frac12`), not only
    when their strings match; after MAX_VOTE_COMPARISONS checks (k samples with k distinct answers take k^2/2)
    the rest group by their strings alone, so a problem's vote stays bounded in time."""
    groups: list[list] = []  # [representative, votes, correct]
    checks = 0
    for answer, is_correct in zip(answers, correct):
        if answer is None:
            continue
        group = next((g for g in groups if g[0] == answer), None)
        for candidate in groups if group is None and equal is not None else ():
            if checks >= MAX_VOTE_COMPARISONS:
                break
            checks += 1
            if equal(answer, candidate[0]):
                group = candidate
                break
        if group is None:
            groups.append([answer, 1, is_correct])
        else:
            group[1] += 1
    if not groups:
        return False
    return max(groups, key=lambda group: group[1])[2]


def maj_at_k(problem_ids: list, answers: list, correct: list[bool], k: int, equal=None) -> Estimate:
    """maj@k over each problem's first k samples, answers grouped by `equal`, with its interval over problems."""
    groups = _by_problem(problem_ids, list(zip(answers, correct)))
    if any(len(g) < k for g in groups.values()):
        raise MetricError(f"maj@{k} needs at least {k} samples per problem")
    return proportion([float(majority_vote_correct(*zip(*g[:k]), equal=equal)) for g in groups.values()])


def paired_difference(a: dict, b: dict, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Estimate:
    """mean(b - a) over the problems both were scored on (values: per-problem scores), with a paired bootstrap."""
    common = sorted(set(a) & set(b), key=str)
    if not common:
        raise MetricError("no problems in common to compare")
    return bootstrap_mean([b[p] - a[p] for p in common], resamples, seed)


def ratio_of_sums(
    numerators: list[float], denominators: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Estimate:
    """sum(numerators) / sum(denominators), with a percentile bootstrap that resamples the pairs (items)."""
    if not numerators or sum(denominators) <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    top, bottom = numpy.asarray(numerators, dtype=float), numpy.asarray(denominators, dtype=float)
    draws = numpy.random.default_rng(seed).integers(0, len(top), size=(resamples, len(top)))
    ratios = numpy.sort(top[draws].sum(axis=1) / numpy.maximum(bottom[draws].sum(axis=1), 1e-12))
    return Estimate(
        value=float(top.sum() / bottom.sum()),
        low=float(ratios[int(0.025 * resamples)]),
        high=float(ratios[int(0.975 * resamples) - 1]),
        standard_error=float(ratios.std()),
    )


def paired_ratio(reference: dict, other: dict) -> Estimate:
    """sum(other) / sum(reference) over the problems both have (values: per-problem means), bootstrapped over those
    problems: e.g. a pruned model's thinking tokens against dense's on the same problems."""
    common = sorted(set(reference) & set(other), key=str)
    if not common:
        raise MetricError("no problems in common to compare")
    return ratio_of_sums([other[p] for p in common], [reference[p] for p in common])


def _nearest_rank(ordered: list[float], percent: int) -> float:
    return ordered[max(0, -(-percent * len(ordered) // 100) - 1)]


def distribution(values: list[float]) -> dict:
    """mean, median and the 10th, 25th, 75th and 90th percentiles (nearest rank), or NaNs for no values."""
    if not values:
        return dict.fromkeys(("mean", "median", "p10", "p25", "p75", "p90"), float("nan"))
    ordered = sorted(values)
    return {
        "mean": sum(ordered) / len(ordered),
        "median": statistics.median(ordered),
        **{f"p{percent}": _nearest_rank(ordered, percent) for percent in (10, 25, 75, 90)},
    }

"""Metrics over per-sample results, each checkable against its formula.

Samples are grouped by problem, the unit that was sampled. accuracy is avg@n: the mean over a problem's n samples,
then over problems.

Intervals (95%, benchmarks/coverage.py measures their coverage):
- Shares (accuracy, truncation, pass@k, maj@k: per-problem values in [0, 1]) get a Clopper–Pearson interval with
  the problems as trials and the per-problem values' sum as successes. With one sample per problem it is the exact
  binomial interval: never narrower than nominal coverage, and never of zero width (1.000 of 600 is [0.994, 1]),
  where the percentile bootstrap collapses to a point near 0 and 1. With several samples per problem it is
  conservative: a problem's mean varies less than one Bernoulli draw.
- Paired differences of shares (Δ vs dense, traces − prompts, a share in two stores) get Newcombe's square-and-add
  interval for paired proportions (Newcombe 1998b, methods 10 and 11): Wilson intervals for the two shares, combined
  with their correlation. rac-bench uses method 11 (continuity-corrected Wilson), whose coverage
  benchmarks/coverage.py measures at or above 95% where method 10 dips to 93.5%. With several samples per problem
  the same formula takes the per-problem means (successes: their sum; correlation: their covariance).
- Ratios of sums (thinking tokens against dense's, drift) get a studentized bootstrap over problems (bootstrap-t with
  the delta-method standard error), which benchmarks/coverage.py measures at 95% from 30 problems up.
- Everything else (thinking tokens, self-corrections) keeps the percentile bootstrap over problems, seeded so the
  same results always give the same interval.

Newcombe 1998a: Two-sided confidence intervals for the single proportion, Stat Med 17:857-872.
Newcombe 1998b: Improved confidence intervals for the difference between binomial proportions based on paired data,
Stat Med 17:2635-2650. Efron and Tibshirani 1993: An Introduction to the Bootstrap, ch. 12 (bootstrap-t).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from statistics import NormalDist

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
    # Imported here: light commands (leaderboard, gate) never need it. betaincinv is what scipy.stats.beta.ppf computes
    # (bit-identical on 10,779 integer and 40,000 fractional intervals), without scipy.stats' 0.5 s import, which each
    # lane of a run paid.
    from scipy.special import betaincinv

    if not values:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    trials, successes = len(values), float(sum(values))
    share = successes / trials
    low = 0.0 if successes <= 0 else float(betaincinv(successes, trials - successes + 1, 0.025))
    high = 1.0 if successes >= trials else float(betaincinv(successes + 1, trials - successes, 0.975))
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
    """mean(b - a) over the problems both were scored on (values: per-problem scores), with a paired bootstrap.
    For shares use paired_share_difference: this one collapses to a point where every problem agrees."""
    common = _common(a, b)
    return bootstrap_mean([b[p] - a[p] for p in common], resamples, seed)


def wilson(successes, trials: int, corrected: bool = False, confidence: float = 0.95):
    """Wilson's score interval for successes of trials (Newcombe 1998a method 3), or with continuity correction
    (method 4). `successes` may be a sum of per-problem shares, and an array (for benchmarks/coverage.py)."""
    successes = numpy.asarray(successes, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share, z2 = successes / trials, z * z
    if not corrected:
        half = z * numpy.sqrt(numpy.maximum(successes * (trials - successes) / trials, 0.0) + z2 / 4)
        return (successes + z2 / 2 - half) / (trials + z2), (successes + z2 / 2 + half) / (trials + z2)
    low_root = numpy.maximum(z2 - 2 - 1 / trials + 4 * share * (trials * (1 - share) + 1), 0.0)
    high_root = numpy.maximum(z2 + 2 - 1 / trials + 4 * share * (trials * (1 - share) - 1), 0.0)
    low = (2 * successes + z2 - 1 - z * numpy.sqrt(low_root)) / (2 * (trials + z2))
    high = (2 * successes + z2 + 1 + z * numpy.sqrt(high_root)) / (2 * (trials + z2))
    return numpy.where(successes <= 0, 0.0, numpy.maximum(low, 0.0)), numpy.where(
        successes >= trials, 1.0, numpy.minimum(high, 1.0)
    )


def newcombe_paired(
    trials: int, reference_sum, other_sum, product_sum, corrected: bool = True, confidence: float = 0.95
):
    """Newcombe's square-and-add interval (1998b; method 11, or method 10 with corrected=False) for
    d = p_o - p_r, from the sums over problems of the two per-problem scores and of their product:
        L = d - sqrt((p_o - l_o)^2 + (u_r - p_r)^2 - 2 phi (p_o - l_o)(u_r - p_r))
        U = d + sqrt((u_o - p_o)^2 + (p_r - l_r)^2 - 2 phi (u_o - p_o)(p_r - l_r))
    (l, u: each share's Wilson interval). phi is the scores' correlation with Newcombe's correction: for 0/1 scores
    n^2 cov = AD - BC, which moves n/2 towards 0 when positive; phi = 0 when a margin is empty. Arrays work."""
    p_r, p_o = numpy.asarray(reference_sum) / trials, numpy.asarray(other_sum) / trials
    l_r, u_r = wilson(reference_sum, trials, corrected, confidence)
    l_o, u_o = wilson(other_sum, trials, corrected, confidence)
    covariance = numpy.asarray(product_sum) / trials - p_r * p_o
    covariance = numpy.where(covariance > 0, numpy.maximum(covariance - 1 / (2 * trials), 0.0), covariance)
    spread = numpy.sqrt(numpy.maximum(p_r * (1 - p_r) * p_o * (1 - p_o), 0.0))
    phi = numpy.where(spread > 0, covariance / numpy.where(spread > 0, spread, 1.0), 0.0)
    down_o, up_r, up_o, down_r = p_o - l_o, u_r - p_r, u_o - p_o, p_r - l_r
    low = p_o - p_r - numpy.sqrt(numpy.maximum(down_o**2 + up_r**2 - 2 * phi * down_o * up_r, 0.0))
    high = p_o - p_r + numpy.sqrt(numpy.maximum(up_o**2 + down_r**2 - 2 * phi * up_o * down_r, 0.0))
    return numpy.maximum(low, -1.0), numpy.minimum(high, 1.0)


def paired_share_difference(
    reference: dict, other: dict, corrected: bool = True, confidence: float = 0.95
) -> Estimate:
    """mean(other) - mean(reference) of per-problem shares in [0, 1] over the problems both have, with Newcombe's
    paired interval (newcombe_paired) and the paired standard error."""
    common = _common(reference, other)
    ref = numpy.asarray([reference[p] for p in common], dtype=float)
    oth = numpy.asarray([other[p] for p in common], dtype=float)
    low, high = newcombe_paired(len(common), ref.sum(), oth.sum(), (ref * oth).sum(), corrected, confidence)
    error = float((oth - ref).std()) / math.sqrt(len(common))
    return Estimate(float(oth.mean() - ref.mean()), float(low), float(high), error)


def ratio_of_sums(
    numerators: list[float], denominators: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Estimate:
    """R = sum(numerators) / sum(denominators), with a studentized bootstrap (bootstrap-t; Efron and Tibshirani 1993,
    ch. 12) that resamples the pairs (items): each resample's t = (R* - R) / se*, with the delta-method standard error
        se = sqrt(n / (n - 1) * sum((y_i - R x_i)^2)) / sum(x_i),
    and the interval [R - t_0.975 se, R - t_0.025 se]. It holds 95% from 30 problems up where the percentile and
    BCa bootstraps reach 91% and 94% (benchmarks/coverage.py)."""
    top, bottom = numpy.asarray(numerators, dtype=float), numpy.asarray(denominators, dtype=float)
    if not len(top) or bottom.sum() <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"))
    value = float(top.sum() / bottom.sum())
    if len(top) < 2:
        return Estimate(value, value, value, 0.0)
    error, _ = _ratio_error(top, bottom)
    draws = numpy.random.default_rng(seed).integers(0, len(top), size=(resamples, len(top)))
    errors, ratios = _ratio_error(top[draws], bottom[draws])
    with numpy.errstate(divide="ignore", invalid="ignore"):
        t = numpy.sort(numpy.where(errors > 0, (ratios - value) / errors, 0.0))
    low = value - float(t[int(0.975 * resamples) - 1]) * error
    high = value - float(t[int(0.025 * resamples)]) * error
    return Estimate(value, min(low, value), max(high, value), float(error))


def _ratio_error(top, bottom):
    """(delta-method standard error, ratio) of sum(top) / sum(bottom) along the last axis."""
    items = top.shape[-1]
    ratio = top.sum(axis=-1) / numpy.maximum(bottom.sum(axis=-1), 1e-12)
    residuals = top - ratio[..., None] * bottom
    spread = numpy.sqrt((residuals**2).sum(axis=-1) * items / (items - 1))
    return spread / numpy.maximum(bottom.sum(axis=-1), 1e-12), ratio


def _common(a: dict, b: dict) -> list:
    common = sorted(set(a) & set(b), key=str)
    if not common:
        raise MetricError("no problems in common to compare")
    return common


def paired_ratio(reference: dict, other: dict) -> Estimate:
    """sum(other) / sum(reference) over the problems both have (values: per-problem means), bootstrapped over those
    problems: e.g. a pruned model's thinking tokens against dense's on the same problems."""
    common = _common(reference, other)
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

"""Coverage of rac-bench's 95% intervals for a share (accuracy at one sample per problem, truncation): how often the
interval holds the true rate, for 30 to 500 problems at rates 0.01 to 0.99.

    python benchmarks/coverage.py [--problems 30,60,100,200,500]

Exact, not simulated: with one sample per problem the data are x successes of n, and every method's interval is a
function of x alone (the bootstrap's resamples are seeded), so the coverage at rate p is the binomial probability of
the x whose interval holds p. Methods: the percentile bootstrap rac-bench used for shares before
(`metrics.bootstrap_mean`, 2,000 resamples), Wilson's score interval (for comparison) and the Clopper–Pearson
interval rac-bench uses now (`metrics.proportion`). Also the probability of a zero-width interval.
"""

from __future__ import annotations

import argparse
import time

import numpy
from scipy.stats import binom
from tabulate import tabulate

from rac_bench import metrics

RATES = (0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)
Z = 1.959964


def wilson(successes: int, trials: int) -> tuple[float, float]:
    share = successes / trials
    center = (share + Z * Z / (2 * trials)) / (1 + Z * Z / trials)
    half = Z * (share * (1 - share) / trials + Z * Z / (4 * trials * trials)) ** 0.5 / (1 + Z * Z / trials)
    return center - half, center + half


def intervals(trials: int) -> dict[str, list[tuple[float, float]]]:
    """Each method's interval for every possible number of successes."""
    found = {"percentile bootstrap": [], "Wilson": [], "Clopper–Pearson (rac-bench)": []}
    for successes in range(trials + 1):
        values = [1.0] * successes + [0.0] * (trials - successes)
        boot, exact = metrics.bootstrap_mean(values), metrics.proportion(values)
        found["percentile bootstrap"].append((boot.low, boot.high))
        found["Wilson"].append(wilson(successes, trials))
        found["Clopper–Pearson (rac-bench)"].append((exact.low, exact.high))
    return found


def coverage(bounds: list[tuple[float, float]], trials: int, rate: float) -> tuple[float, float]:
    """(probability the interval holds `rate`, probability it has zero width)."""
    weights = binom.pmf(numpy.arange(trials + 1), trials, rate)
    holds = numpy.array([low <= rate <= high for low, high in bounds])
    point = numpy.array([high - low <= 0 for low, high in bounds])
    return float(weights @ holds), float(weights @ point)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="30,60,100,200,500")
    args = parser.parse_args()
    started = time.time()
    summary, detail = [], []
    for trials in (int(n) for n in args.problems.split(",")):
        for method, bounds in intervals(trials).items():
            covered = {rate: coverage(bounds, trials, rate) for rate in RATES}
            middle = [covered[r][0] for r in RATES if 0.02 <= r <= 0.98]
            summary.append(
                [trials, method, f"{min(middle):.3f}", f"{numpy.mean(middle):.3f}"]
                + [f"{max(point for _, point in covered.values()):.3f}"]
            )
            detail.append([trials, method, *(f"{covered[r][0]:.3f}" for r in RATES)])
    headers = ["problems", "interval", "min coverage, rates 0.02–0.98", "mean coverage", "most zero-width"]
    print(tabulate(summary, headers=headers, tablefmt="github", disable_numparse=True))
    print()
    print(
        tabulate(detail, headers=["problems", "interval", *map(str, RATES)], tablefmt="github", disable_numparse=True)
    )
    print(f"\nnominal 95%; exact binomial coverage; {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()

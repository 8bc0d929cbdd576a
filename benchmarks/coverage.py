"""Coverage of rac-bench's 95% intervals: how often each holds the true value.

    python benchmarks/coverage.py [--problems 30,60,100,200,500] [--replicates 10000] [--ratio-replicates 4000]
                                  [--normal-replicates 200000] [--sections shares,paired,ratios]

1. Shares (accuracy at one sample per problem, truncation), for 30 to 500 problems at rates 0.01 to 0.99. Exact:
   with one sample per problem every interval is a function of the x successes of n (the bootstrap's resamples are
   seeded), so the coverage at rate p is the binomial probability of the x whose interval holds p. Methods: the
   percentile bootstrap (`metrics.bootstrap_mean`), Wilson, and Clopper–Pearson (`metrics.proportion`, rac-bench's).
2. Paired differences of shares (Δ vs dense, traces − prompts): dense's rate → the variant's at 30, 100 and 600
   problems. One sample per problem, exact: every 2x2 table of (dense right, variant right) counts, weighted by its
   multinomial probability, under three dependences of the two models' outcomes (independent; "nested": the
   variant is right only where dense is, the most positive correlation the rates allow; halfway between). Methods:
   Newcombe's method 10 and method 11 (rac-bench's, `metrics.paired_share_difference`). Several samples per problem
   (4 each), Monte Carlo: each problem has its own rates (probit random effects with a standard deviation of 1 and
   a correlation of 0.8 between the models), each model answers it 4 times.
3. Ratios of sums (think × dense), resampled from the real default run (benchmarks/data/, 600 problems): the
   population ratio is the truth, each replicate draws 30, 100 or 600 problems with replacement. Methods: the
   percentile bootstrap rac-bench used before, BCa, and the studentized bootstrap (`metrics.ratio_of_sums`,
   rac-bench's), with the normal interval R ± 1.96 se (delta method) for reference. Monte Carlo, with a control
   variate so that the estimates are precise enough to read at 600 problems: the normal interval needs no
   bootstrap, so its coverage is measured over 200,000 cheap replicates, and each bootstrap interval's coverage is
   its rate on the bootstrap replicates corrected by how far the normal interval's rate on those same replicates
   fell from its known one (a regression estimator; every coverage is printed with its Monte Carlo standard error).

The last line is the smallest coverage of rac-bench's own paired and ratio intervals over every row.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy
from scipy.special import gammaln
from scipy.stats import binom, norm
from tabulate import tabulate

from rac_bench import metrics

RATES = (0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)
PAIRED_ROWS = ((1.00, 0.98), (1.00, 0.995), (0.99, 0.97), (0.70, 0.60), (0.50, 0.50))
PAIRED_PROBLEMS = (30, 100, 600)
SAMPLES_PER_PROBLEM = 4
DATA = Path(__file__).parent / "data" / "default_run_per_problem.csv"


def table(rows: list, headers: list) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


# 1. shares ------------------------------------------------------------------------------------------------------------
def share_intervals(trials: int) -> dict[str, list[tuple[float, float]]]:
    """Each method's interval for every possible number of successes."""
    found = {"percentile bootstrap": [], "Wilson": [], "Clopper–Pearson (rac-bench)": []}
    for successes in range(trials + 1):
        values = [1.0] * successes + [0.0] * (trials - successes)
        boot, exact = metrics.bootstrap_mean(values), metrics.proportion(values)
        found["percentile bootstrap"].append((boot.low, boot.high))
        found["Wilson"].append(tuple(float(b) for b in metrics.wilson(successes, trials)))
        found["Clopper–Pearson (rac-bench)"].append((exact.low, exact.high))
    return found


def share_coverage(bounds: list[tuple[float, float]], trials: int, rate: float) -> tuple[float, float]:
    """(probability the interval holds `rate`, probability it has zero width)."""
    weights = binom.pmf(numpy.arange(trials + 1), trials, rate)
    holds = numpy.array([low <= rate <= high for low, high in bounds])
    point = numpy.array([high - low <= 0 for low, high in bounds])
    return float(weights @ holds), float(weights @ point)


def shares(problem_counts: list[int]) -> None:
    summary, detail = [], []
    for trials in problem_counts:
        for method, bounds in share_intervals(trials).items():
            covered = {rate: share_coverage(bounds, trials, rate) for rate in RATES}
            middle = [covered[r][0] for r in RATES if 0.02 <= r <= 0.98]
            worst_point = max(point for _, point in covered.values())
            summary.append([trials, method, f"{min(middle):.3f}", f"{numpy.mean(middle):.3f}", f"{worst_point:.3f}"])
            detail.append([trials, method, *(f"{covered[r][0]:.3f}" for r in RATES)])
    print("Shares, exact binomial coverage\n")
    headers = ["problems", "interval", "min coverage, rates 0.02–0.98", "mean coverage", "most zero-width"]
    print(table(summary, headers))
    print()
    print(table(detail, ["problems", "interval", *map(str, RATES)]))


# 2. paired shares -----------------------------------------------------------------------------------------------------
def dependences(dense: float, variant: float) -> dict[str, tuple[float, float, float, float]]:
    """(both right, dense only, variant only, neither) under each dependence."""
    independent, nested = dense * variant, min(dense, variant)
    found = {}
    for name, both in (("independent", independent), ("halfway", (independent + nested) / 2), ("nested", nested)):
        found[name] = (both, dense - both, variant - both, 1 - dense - variant + both)
    return found


def tables(trials: int, cells: tuple[float, float, float, float]):
    """Every 2x2 table within 9 standard deviations of each count, with its multinomial probability."""
    ranges = []
    for p in cells[:3]:
        mean, sd = trials * p, (trials * p * (1 - p)) ** 0.5
        low, high = (0, 0) if p <= 1e-12 else (max(0, int(mean - 9 * sd - 2)), min(trials, int(mean + 9 * sd + 2)))
        ranges.append(numpy.arange(low, high + 1))
    counts = [grid.ravel() for grid in numpy.meshgrid(*ranges, indexing="ij")]
    counts.append(trials - counts[0] - counts[1] - counts[2])
    keep = (counts[3] >= 0) & ((counts[3] == 0) | (cells[3] > 1e-12))
    counts = [c[keep] for c in counts]
    log_weight = gammaln(trials + 1) - sum(gammaln(c + 1) for c in counts)
    for c, p in zip(counts, cells):
        log_weight = log_weight + numpy.where(c > 0, c * numpy.log(max(p, 1e-300)), 0.0)
    return counts, numpy.exp(log_weight)


def paired_exact(trials: int, dense: float, variant: float, corrected: bool) -> dict[str, float]:
    covered = {}
    for name, cells in dependences(dense, variant).items():
        (both, dense_only, variant_only, _), weights = tables(trials, cells)
        low, high = metrics.newcombe_paired(
            trials, both + dense_only, both + variant_only, both, corrected=corrected
        )
        truth = variant - dense
        covered[name] = float(weights @ ((low <= truth + 1e-12) & (truth - 1e-12 <= high))) / float(weights.sum())
    return covered


def problem_rates(rng, replicates: int, trials: int, dense: float, variant: float, correlation: float = 0.8):
    """Each problem's rate for dense and the variant: probit random effects (sd 1) whose means are the given rates."""
    shared = rng.standard_normal((replicates, trials))
    own = correlation * shared + (1 - correlation**2) ** 0.5 * rng.standard_normal((replicates, trials))

    def rate(mean: float, latent):
        return numpy.ones_like(latent) if mean >= 1 else norm.cdf(norm.ppf(mean) * 2**0.5 + latent)

    return rate(dense, shared), rate(variant, own)


def paired_sampled(rng, replicates: int, trials: int, dense: float, variant: float) -> float:
    dense_rates, variant_rates = problem_rates(rng, replicates, trials, dense, variant)
    dense_scores = rng.binomial(SAMPLES_PER_PROBLEM, dense_rates) / SAMPLES_PER_PROBLEM
    variant_scores = rng.binomial(SAMPLES_PER_PROBLEM, variant_rates) / SAMPLES_PER_PROBLEM
    low, high = metrics.newcombe_paired(
        trials, dense_scores.sum(1), variant_scores.sum(1), (dense_scores * variant_scores).sum(1)
    )
    truth = variant - dense
    return float(numpy.mean((low <= truth + 1e-12) & (truth - 1e-12 <= high)))


def paired(replicates: int) -> list[float]:
    rows, own = [], []
    rng = numpy.random.default_rng(0)
    for trials in PAIRED_PROBLEMS:
        for dense, variant in PAIRED_ROWS:
            method_10 = paired_exact(trials, dense, variant, corrected=False)
            method_11 = paired_exact(trials, dense, variant, corrected=True)
            sampled = paired_sampled(rng, replicates, trials, dense, variant)
            own += [*method_11.values(), sampled]
            rows.append(
                [trials, f"{dense:.3f} → {variant:.3f}"]
                + [f"{method_10[name]:.3f} / {method_11[name]:.3f}" for name in method_11]
                + [f"{sampled:.3f}"]
            )
    headers = ["problems", "dense → variant", "independent", "halfway", "nested", f"{SAMPLES_PER_PROBLEM} samples"]
    print("\nPaired differences of shares (variant − dense): one sample per problem, exact, method 10 / method 11 "
          f"(rac-bench); {SAMPLES_PER_PROBLEM} samples per problem, method 11, Monte Carlo over {replicates:,} "
          "replicates\n")
    print(table(rows, headers))
    return own


# 3. ratios ------------------------------------------------------------------------------------------------------------
def percentile_and_bca(numerators, denominators, resamples: int = metrics.BOOTSTRAP_RESAMPLES, seed: int = 0):
    """The percentile bootstrap of a ratio of sums that rac-bench used before, and BCa (Efron 1987): the same
    resampled ratios, their percentiles moved by the bias correction z0 and the jackknife's acceleration a."""
    draws = numpy.random.default_rng(seed).integers(0, len(numerators), size=(resamples, len(numerators)))
    ratios = numpy.sort(numerators[draws].sum(axis=1) / denominators[draws].sum(axis=1))
    value = numerators.sum() / denominators.sum()
    below = (numpy.sum(ratios < value) + 0.5 * numpy.sum(ratios == value)) / resamples
    bias = norm.ppf(min(max(below, 1 / resamples), 1 - 1 / resamples))
    leave_one_out = (numerators.sum() - numerators) / (denominators.sum() - denominators)
    spread = leave_one_out.mean() - leave_one_out
    acceleration = (spread**3).sum() / (6 * max((spread**2).sum(), 1e-300) ** 1.5)
    moved = [norm.cdf(bias + (bias + z) / (1 - acceleration * (bias + z))) for z in norm.ppf([0.025, 0.975])]
    bca = ratios[min(int(moved[0] * resamples), resamples - 1)], ratios[max(int(moved[1] * resamples) - 1, 0)]
    return (ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]), bca


def delta_method(top, bottom) -> tuple:
    """(ratio, delta-method standard error) of sum(top) / sum(bottom) along the last axis, as rac-bench's."""
    items = top.shape[-1]
    ratio = top.sum(axis=-1) / bottom.sum(axis=-1)
    spread = numpy.sqrt(((top - ratio[..., None] * bottom) ** 2).sum(axis=-1) * items / (items - 1))
    return ratio, spread / bottom.sum(axis=-1)


def normal_coverage(variant, dense, truth: float, trials: int, replicates: int) -> float:
    """The normal interval R ± 1.96 se's coverage over many cheap replicates (no bootstrap): the control variate."""
    rng, held = numpy.random.default_rng(10_000 + trials), 0
    for size in [10_000] * (replicates // 10_000) + [replicates % 10_000]:
        chosen = rng.integers(0, len(dense), size=(size, trials))
        ratio, error = delta_method(variant[chosen], dense[chosen])
        held += int(numpy.sum((ratio - 1.96 * error <= truth) & (truth <= ratio + 1.96 * error)))
    return held / replicates


def controlled(held: numpy.ndarray, normal_held: numpy.ndarray, normal_rate: float, normal_replicates: int):
    """(coverage, Monte Carlo standard error) of a bootstrap interval from its hits on the bootstrap replicates,
    with the normal interval's hits on the same replicates as a regression control variate (its coverage known
    from `normal_replicates` cheap ones): estimate = mean(held) - beta (mean(normal_held) - normal_rate)."""
    spread = numpy.var(normal_held)
    beta = float(numpy.cov(held, normal_held)[0, 1] / spread) if spread > 0 else 0.0
    estimate = float(held.mean() - beta * (normal_held.mean() - normal_rate))
    variance = numpy.var(held - beta * normal_held, ddof=1) / len(held)
    variance += beta**2 * normal_rate * (1 - normal_rate) / normal_replicates
    return estimate, float(variance**0.5)


def ratio_row(variant, dense, trials: int, replicates: int, normal_replicates: int) -> dict[str, tuple]:
    """Each interval's (coverage, its Monte Carlo standard error) at `trials` problems."""
    truth = variant.sum() / dense.sum()
    rng = numpy.random.default_rng(trials)
    held = {name: numpy.zeros(replicates) for name in ("normal", "percentile", "BCa", "studentized")}
    for replicate in range(replicates):
        chosen = rng.integers(0, len(dense), size=trials)
        ratio, error = delta_method(variant[chosen], dense[chosen])
        held["normal"][replicate] = ratio - 1.96 * error <= truth <= ratio + 1.96 * error
        compared = percentile_and_bca(variant[chosen], dense[chosen], seed=replicate)
        for method, (low, high) in zip(("percentile", "BCa"), compared):
            held[method][replicate] = low <= truth <= high
        estimate = metrics.ratio_of_sums(variant[chosen], dense[chosen], seed=replicate)
        held["studentized"][replicate] = estimate.low <= truth <= estimate.high
    normal_rate = normal_coverage(variant, dense, truth, trials, normal_replicates)
    found = {"normal": (normal_rate, (normal_rate * (1 - normal_rate) / normal_replicates) ** 0.5)}
    for method in ("percentile", "BCa", "studentized"):
        found[method] = controlled(held[method], held["normal"], normal_rate, normal_replicates)
    return found


def ratios(replicates: int, normal_replicates: int) -> list[float]:
    with DATA.open() as handle:
        records = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    dense = numpy.array([float(r["dense_thinking"]) for r in records])
    rows, own = [], []
    for name in ("rac", "sparsegpt"):
        variant = numpy.array([float(r[f"{name}_thinking"]) for r in records])
        for trials in PAIRED_PROBLEMS:
            found = ratio_row(variant, dense, trials, replicates, normal_replicates)
            own.append(found["studentized"][0])
            rows.append(
                [f"{name} × dense", f"{variant.sum() / dense.sum():.3f}", trials]
                + [f"{rate:.3f} ± {error:.3f}" for rate, error in found.values()]
            )
    print(f"\nRatios of sums (thinking tokens, variant over dense), resampled from the default run; Monte Carlo: "
          f"{replicates:,} bootstrap replicates, the normal interval over {normal_replicates:,} as their control "
          "variate; ± one Monte Carlo standard error\n")
    headers = ["ratio", "population value", "problems", "normal (delta method)", "percentile bootstrap", "BCa",
               "studentized (rac-bench)"]
    print(table(rows, headers))
    return own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="30,60,100,200,500")
    parser.add_argument("--replicates", type=int, default=10000, help="Monte Carlo replicates, paired rows")
    parser.add_argument("--ratio-replicates", type=int, default=4000, help="bootstrap replicates, ratio rows")
    parser.add_argument(
        "--normal-replicates", type=int, default=200_000, help="the control variate's replicates, ratio rows"
    )
    parser.add_argument("--sections", default="shares,paired,ratios", help="which sections to run")
    args = parser.parse_args()
    started, load = time.time(), os.getloadavg()[0]
    sections, own = args.sections.split(","), []
    if "shares" in sections:
        shares([int(n) for n in args.problems.split(",")])
    if "paired" in sections:
        own += paired(args.replicates)
    if "ratios" in sections:
        own += ratios(args.ratio_replicates, args.normal_replicates)
    print(f"\nnominal 95%; {time.time() - started:.0f} s; load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"min paired coverage: {min(own):.3f}")


if __name__ == "__main__":
    main()

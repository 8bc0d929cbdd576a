import numpy
import pytest

from rac_bench import metrics


def test_accuracy_is_avg_at_n_over_problems():
    # problem a: 2 of 4 correct, problem b: 1 of 1 -> (0.5 + 1.0) / 2, not 3 / 5
    estimate = metrics.accuracy(["a", "a", "a", "a", "b"], [True, False, True, False, True])
    assert estimate.value == pytest.approx(0.75)


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [1.0] * 70 + [0.0] * 30
    estimate = metrics.bootstrap_mean(values)
    assert estimate.low < 0.7 < estimate.high
    assert 0.55 < estimate.low and estimate.high < 0.85
    assert estimate.standard_error == pytest.approx((0.7 * 0.3 / 100) ** 0.5, rel=0.15)
    assert metrics.bootstrap_mean(values) == estimate


def test_constant_values_have_a_zero_width_bootstrap_interval_but_not_a_zero_width_share_interval():
    estimate = metrics.bootstrap_mean([1.0] * 10)
    assert (estimate.value, estimate.low, estimate.high) == (1.0, 1.0, 1.0)
    # a share gets Clopper–Pearson: all of 600 correct is not certainty; (1 - 0.025^(1/600)) is its exact bound
    perfect, none = metrics.proportion([1.0] * 600), metrics.proportion([0.0] * 600)
    assert perfect.value == 1.0 and perfect.low == pytest.approx(0.025 ** (1 / 600), abs=1e-9) and perfect.high == 1.0
    assert none.value == 0.0 and none.low == 0.0 and none.high == pytest.approx(1 - 0.025 ** (1 / 600), abs=1e-9)
    assert metrics.accuracy(list(range(600)), [True] * 600).low < 1.0


def test_clopper_pearson_equals_the_exact_binomial_bounds():
    from scipy.stats import binom

    estimate = metrics.proportion([1.0] * 3 + [0.0] * 27)  # 3 of 30
    # the bounds are where the binomial tail probabilities reach 2.5%
    assert binom.sf(2, 30, estimate.low) == pytest.approx(0.025, abs=1e-9)
    assert binom.cdf(3, 30, estimate.high) == pytest.approx(0.025, abs=1e-9)


def test_maj_at_k_groups_equivalent_notations_before_voting():
    """Gold 1/2 written three ways against a wrong answer written the same way twice: by strings "3" wins, by
    equivalence 1/2 does."""
    from rac_bench.scoring import get_scorer

    equal = get_scorer("math").equal
    answers = ["\\dfrac{1}{2}", "\\frac12", "3", "3", "0.5"]
    correct = [True, True, False, False, True]
    assert not metrics.majority_vote_correct(answers, correct)
    assert metrics.majority_vote_correct(answers, correct, equal)
    estimate = metrics.maj_at_k(["p"] * 5 + ["q"] * 5, answers * 2, correct * 2, 5, equal)
    assert estimate.value == 1.0


def test_a_vote_over_many_distinct_answers_makes_a_bounded_number_of_equivalence_checks():
    """64 samples with 64 distinct answers would take 2,016 checks, each allowed math-verify's time limit."""
    checks = []

    def equal(a, b):
        checks.append((a, b))
        return False

    answers = [str(i) for i in range(64)] + ["0"]
    assert metrics.majority_vote_correct(answers, [True] + [False] * 64, equal)  # "0" still wins by its string
    assert len(checks) == metrics.MAX_VOTE_COMPARISONS


from math import comb  # noqa: E402

from rac_bench.metrics import MetricError  # noqa: E402


@pytest.mark.parametrize("n, c, k", [(10, 3, 1), (10, 3, 5), (16, 0, 4), (16, 16, 8), (20, 7, 10), (5, 2, 5)])
def test_pass_at_k_matches_the_combinatorial_formula(n, c, k):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_1_is_the_fraction_correct_and_k_above_n_is_an_error():
    assert metrics.pass_at_k(8, 3, 1) == pytest.approx(3 / 8)
    with pytest.raises(MetricError, match="k=9 with n=8"):
        metrics.pass_at_k(8, 3, 9)


def test_majority_vote_ignores_missing_answers_and_breaks_ties_by_first_seen():
    assert metrics.majority_vote_correct(["4", "5", "5", None, None], [True, False, False, False, False]) is False
    assert metrics.majority_vote_correct(["4", None, None], [True, False, False]) is True
    assert metrics.majority_vote_correct(["4", "5"], [True, False]) is True
    estimate = metrics.maj_at_k(
        ["a", "a", "a", "b", "b", "b"], ["1", "2", "2", "7", "7", "3"], [True, False, False, True, True, False], k=3
    )
    assert estimate.value == pytest.approx(0.5)


def test_paired_difference_uses_only_common_problems():
    a = {"p1": 1.0, "p2": 0.0, "p3": 1.0}
    b = {"p1": 1.0, "p2": 1.0, "p4": 0.0}
    estimate = metrics.paired_difference(a, b)
    assert estimate.value == pytest.approx(0.5)
    assert estimate.low <= 0.5 <= estimate.high


def test_distribution_reports_mean_median_and_p90():
    stats = metrics.distribution(list(range(1, 11)))
    assert (stats["mean"], stats["median"], stats["p90"]) == (5.5, 5.5, 9)


def test_paired_ratio_is_the_ratio_of_sums_over_common_problems_with_a_bootstrap_interval():
    dense = {"a": 10.0, "b": 20.0, "c": 30.0, "only-dense": 99.0}
    pruned = {"a": 15.0, "b": 20.0, "c": 45.0}
    ratio = metrics.paired_ratio(dense, pruned)
    assert ratio.value == pytest.approx(80 / 60)
    assert ratio.low <= ratio.value <= ratio.high
    identical = metrics.paired_ratio(dense, dense)
    assert (identical.value, identical.low, identical.high) == (1.0, 1.0, 1.0)
    with pytest.raises(MetricError):
        metrics.paired_ratio({"a": 1.0}, {"b": 1.0})


def test_ratio_of_sums_weighs_items_by_their_denominators():
    estimate = metrics.ratio_of_sums([1.0, 9.0], [1.0, 3.0])  # 10 / 4, not the mean of 1 and 3
    assert estimate.value == 2.5 and estimate.low <= 2.5 <= estimate.high


def test_distribution_percentiles_are_nearest_rank():
    stats = metrics.distribution(list(range(1, 31)))  # 1..30: nearest rank p = ceil(p% * 30)
    assert (stats["p10"], stats["p25"], stats["median"], stats["p75"], stats["p90"]) == (3, 8, 15.5, 23, 27)


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.115, 0.5, 0.98])
def test_share_intervals_hold_the_true_rate_at_least_95_percent_of_the_time_at_30_problems(rate):
    """Exact coverage over the binomial draw of successes (benchmarks/coverage.py does the full grid)."""
    from scipy.stats import binom

    trials = 30
    covered = 0.0
    for successes in range(trials + 1):
        estimate = metrics.proportion([1.0] * successes + [0.0] * (trials - successes))
        if estimate.low <= rate <= estimate.high:
            covered += binom.pmf(successes, trials, rate)
    assert covered >= 0.95


def _paired_scores(both: int, other_only: int, reference_only: int, neither: int) -> tuple[dict, dict]:
    """A 2x2 table as per-problem scores: (reference, other)."""
    cells = [(1, 1)] * both + [(0, 1)] * other_only + [(1, 0)] * reference_only + [(0, 0)] * neither
    return {i: r for i, (r, _) in enumerate(cells)}, {i: o for i, (_, o) in enumerate(cells)}


# Newcombe (1998b), Table III: (e, f, g, h) with theta = (f - g) / n, method 10's 95% limits to 4 decimals.
NEWCOMBE_TABLE_III = [
    (36, 12, 2, 0, 0.0569, 0.3404), (20, 12, 2, 16, 0.0562, 0.3292), (18, 12, 2, 18, 0.0562, 0.3290),
    (36, 14, 0, 0, 0.1528, 0.4167), (35, 14, 0, 1, 0.1461, 0.4175), (18, 14, 0, 18, 0.1441, 0.3963),
    (2, 97, 1, 0, 0.8721, 0.9854), (1, 97, 1, 1, 0.8736, 0.9850), (0, 29, 1, 0, 0.6666, 0.9882),
    (2, 98, 0, 0, 0.9178, 0.9945), (1, 98, 0, 1, 0.9171, 0.9916), (0, 30, 0, 0, 0.8395, 1.0),
    (54, 0, 0, 0, -0.0664, 0.0664), (53, 0, 0, 1, -0.0729, 0.0729), (30, 0, 0, 24, -0.0358, 0.0358),
    (29, 0, 0, 25, -0.0354, 0.0354), (28, 0, 0, 26, -0.0352, 0.0352), (27, 0, 0, 27, -0.0351, 0.0351),
]


@pytest.mark.parametrize("both, first_only, second_only, neither, low, high", NEWCOMBE_TABLE_III)
def test_paired_share_difference_method_10_reproduces_newcombes_table(
    both, first_only, second_only, neither, low, high
):
    reference, other = _paired_scores(both, first_only, second_only, neither)
    estimate = metrics.paired_share_difference(reference, other, corrected=False)
    assert estimate.value == pytest.approx((first_only - second_only) / (both + first_only + second_only + neither))
    assert (estimate.low, estimate.high) == (pytest.approx(low, abs=1.01e-4), pytest.approx(high, abs=1.01e-4))


def test_paired_share_difference_matches_the_square_and_add_example_of_fagerland_et_al():
    """Cavo et al. (2012) in Fagerland, Lydersen and Laake, Statistical Analysis of Contingency Tables, ch. 8:
    [[59, 6], [16, 80]], Newcombe square-and-add -0.1186 to -0.0046."""
    reference, other = _paired_scores(59, 6, 16, 80)
    estimate = metrics.paired_share_difference(reference, other, corrected=False)
    assert (estimate.low, estimate.high) == (pytest.approx(-0.1186, abs=1e-4), pytest.approx(-0.0046, abs=1e-4))


@pytest.mark.parametrize("successes, trials", [(81, 263), (15, 148), (0, 20), (1, 29), (29, 29), (3, 600)])
def test_wilson_intervals_equal_scipys_with_and_without_continuity_correction(successes, trials):
    from scipy.stats import binomtest

    for corrected, method in ((False, "wilson"), (True, "wilsoncc")):
        expected = binomtest(successes, trials).proportion_ci(method=method)
        low, high = metrics.wilson(successes, trials, corrected)
        assert (float(low), float(high)) == (pytest.approx(expected.low), pytest.approx(expected.high))


def test_method_11_contains_method_10_and_both_are_antisymmetric_and_hold_the_estimate():
    rng = numpy.random.default_rng(3)
    for _ in range(200):
        counts = rng.multinomial(int(rng.integers(5, 200)), rng.dirichlet([1, 1, 1, 1]))
        reference, other = _paired_scores(*counts)
        method_10 = metrics.paired_share_difference(reference, other, corrected=False)
        method_11 = metrics.paired_share_difference(reference, other)
        swapped = metrics.paired_share_difference(other, reference)
        assert method_11.low <= method_10.low <= method_10.value <= method_10.high <= method_11.high
        assert (swapped.low, swapped.high) == (pytest.approx(-method_11.high), pytest.approx(-method_11.low))
        assert -1 <= method_11.low and method_11.high <= 1


def test_a_paired_difference_at_the_ceiling_has_width():
    """Dense and the variant right on all 600 problems: the bootstrap gives [0, 0], Newcombe's interval does not."""
    same = {i: 1.0 for i in range(600)}
    assert (metrics.paired_difference(same, same).low, metrics.paired_difference(same, same).high) == (0.0, 0.0)
    estimate = metrics.paired_share_difference(same, same)
    assert estimate.value == 0.0 and estimate.low < -0.005 and estimate.high > 0.005


def test_method_11_covers_at_least_95_percent_where_the_variant_is_right_only_where_dense_is():
    """Exact coverage at 100 problems, dense 0.70 -> variant 0.60, nested (benchmarks/coverage.py's worst cell for
    method 10): every table (both right, dense alone right, neither) weighted by its multinomial probability."""
    from scipy.stats import multinomial

    both, dense_only = (grid.ravel() for grid in numpy.meshgrid(numpy.arange(101), numpy.arange(101)))
    keep = both + dense_only <= 100
    both, dense_only = both[keep], dense_only[keep]
    weights = multinomial.pmf(numpy.stack([both, dense_only, 100 - both - dense_only], 1), 100, [0.6, 0.1, 0.3])
    held = {}
    for corrected in (False, True):
        low, high = metrics.newcombe_paired(100, both + dense_only, both, both, corrected)
        held[corrected] = float(weights @ ((low <= -0.1 + 1e-12) & (-0.1 - 1e-12 <= high)))
    assert held[True] >= 0.95 and held[False] < 0.94


def test_paired_share_difference_takes_per_problem_means_of_several_samples():
    reference = {"a": 1.0, "b": 0.5, "c": 0.25, "d": 1.0}
    other = {"a": 0.75, "b": 0.5, "c": 0.0, "d": 1.0}
    estimate = metrics.paired_share_difference(reference, other)
    assert estimate.value == pytest.approx(-0.125) and estimate.low < -0.125 < estimate.high


def test_ratio_of_sums_is_studentized_with_the_delta_method_standard_error():
    rng = numpy.random.default_rng(5)
    dense = rng.lognormal(3.6, 0.5, size=40)
    pruned = dense * rng.lognormal(0.3, 0.6, size=40)
    estimate = metrics.ratio_of_sums(pruned, dense)
    ratio = pruned.sum() / dense.sum()
    delta_method = numpy.sqrt(((pruned - ratio * dense) ** 2).sum() * 40 / 39) / dense.sum()
    assert estimate.value == pytest.approx(ratio) and estimate.standard_error == pytest.approx(delta_method)
    assert estimate.high - ratio > ratio - estimate.low  # right-skewed ratios: the upper side is longer
    doubled = metrics.ratio_of_sums(2 * pruned, dense)  # the interval scales with the ratio
    assert (doubled.low, doubled.high) == (pytest.approx(2 * estimate.low), pytest.approx(2 * estimate.high))


def test_ratio_of_sums_approaches_the_normal_interval_with_many_items():
    rng = numpy.random.default_rng(6)
    dense = rng.normal(100, 10, size=4000)
    pruned = 1.5 * dense + rng.normal(0, 10, size=4000)
    estimate = metrics.ratio_of_sums(pruned, dense)
    half = 1.96 * estimate.standard_error
    assert estimate.low == pytest.approx(estimate.value - half, rel=2e-4)
    assert estimate.high == pytest.approx(estimate.value + half, rel=2e-4)

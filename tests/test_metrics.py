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

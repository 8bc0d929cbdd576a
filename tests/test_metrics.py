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


def test_constant_values_have_a_zero_width_interval():
    estimate = metrics.bootstrap_mean([1.0] * 10)
    assert (estimate.value, estimate.low, estimate.high) == (1.0, 1.0, 1.0)

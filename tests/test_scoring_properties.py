"""No normalisation makes two different numbers one answer: every way of writing an integer or a fraction that
the rules accept (separators, leading zeros, `\\frac`, decimals, percent, units, `x =`, several boxes) keeps
different values apart, and the same value together."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from rac_bench.scoring import score_response

VALUES = st.one_of(
    st.integers(-(10**7), 10**7).map(Fraction),
    st.fractions(min_value=-1000, max_value=1000, max_denominator=64),
)


def _integer_forms(value: int) -> list[str]:
    forms = [str(value), f"{value:,}", f"{value:,}".replace(",", "{,}"), f"{value:,}".replace(",", ",\\!")]
    if value >= 0:
        forms.append(f"{value:05d}")  # leading zeros
    return forms


def _fraction_forms(value: Fraction) -> list[str]:
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    forms = [
        f"{sign}\\frac{{{magnitude.numerator}}}{{{magnitude.denominator}}}",
        f"\\dfrac{{{value.numerator}}}{{{value.denominator}}}",
        f"{value.numerator}/{value.denominator}",
    ]
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal) == value:  # a terminating decimal
        plain = f"{decimal:f}"
        forms += [plain, plain + ("0" if "." in plain else ".0")]  # 2.5 and 2.50, -1 and -1.0
    return forms


def written(value: Fraction) -> st.SearchStrategy[str]:
    """One way a model or a dataset writes `value`, with the notation the rules remove."""
    core = _integer_forms(int(value)) if value.denominator == 1 else []
    core += _fraction_forms(value)
    decorations = ["#", "#\\%", "# percent", "# \\text{ cm}", "x = #", "\\$#", "#^\\circ", "\\text{#}"]
    return st.tuples(st.sampled_from(core), st.sampled_from(decorations)).map(
        lambda pair: pair[1].replace("#", pair[0])
    )


def judged_equal(answer: str, reference: str) -> bool:
    return score_response("math", f"</think>The answer is \\boxed{{{answer}}}.", reference).correct


@settings(max_examples=400, deadline=None)
@given(st.data(), VALUES, VALUES)
def test_different_numbers_are_never_one_answer(data, first, second):
    if first == second:
        second += 1
    answer, reference = data.draw(written(first)), data.draw(written(second))
    assert not judged_equal(answer, reference)


@settings(max_examples=200, deadline=None)
@given(st.data(), VALUES)
def test_the_same_number_written_two_ways_is_one_answer(data, value):
    answer, reference = data.draw(written(value)), data.draw(written(value))
    assert judged_equal(answer, reference)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 999), st.integers(0, 999), st.sampled_from(["{}, {}", "{} \\text{{ and }} {}", "{} \\quad {}"]))
def test_a_list_is_never_the_number_its_digits_spell(first, second, layout):
    """`10, 200` is not 10200, whether written in one box or in two."""
    spelled = f"{first}{second:03d}"
    one_box = layout.format(first, f"{second:03d}")
    assert not judged_equal(one_box, spelled)
    assert not judged_equal(f"{first}}}, \\boxed{{{second:03d}", spelled)  # \boxed{10}, \boxed{200}

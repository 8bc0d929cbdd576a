"""A toy metric, declared in this one file and nowhere else: the share of a response's tokens spent after its
thinking, per problem. tests/test_catalogue.py registers it and finds it in every place the catalogue reaches."""

from rac_bench.catalogue import Metric
from rac_bench.metrics import Estimate


def _answer_share(cell) -> Estimate:
    thinking, answer = cell.results.thinking_tokens.value, cell.results.answer_tokens
    share = answer / (thinking + answer)
    return Estimate(share, share * 0.9, min(1.0, share * 1.1), share * 0.05)


TOY = Metric(
    "answer_share",
    "answer share [95% CI]",
    read=_answer_share,
    source="answer tokens over all tokens (samples)",
    interval="a made-up ±10% interval",
    direction="higher",
    gate=10,
    compared_over="answer_tokens",
    index_mean=True,
)

"""math-verify's symbolic equivalence, run only inside the answer-checking worker:
`python -m rac_bench.scoring.math_verify_check MEMORY_LIMIT` (see `sandbox.py`).

Time is limited from outside, by killing the worker, so math-verify's own timeouts are off.
"""

from __future__ import annotations

import logging


def equal(gold: str, predicted: str) -> bool:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    gold_parsed = parse(f"${gold}$", extraction_config=configs, parsing_timeout=None)
    predicted_parsed = parse(f"${predicted}$", extraction_config=configs, parsing_timeout=None)
    if not gold_parsed or not predicted_parsed:
        return False
    return bool(verify(gold_parsed, predicted_parsed, timeout_seconds=None))


def warm_up() -> None:
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    equal("\\frac{1}{2}", "0.5")


if __name__ == "__main__":
    from rac_bench.scoring.sandbox import serve

    serve(equal, warm_up)

"""Builds calibration sets by source (see `calibration.sources`), once per run, from the dense model, and caps
each at the run's token budget. Building is timed apart from pruning."""

from __future__ import annotations

import logging
import time

from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import BuildInputs, CalibrationSource
from rac_bench.errors import CalibrationError

log = logging.getLogger(__name__)


class CalibrationProvider:
    def __init__(self, inputs: BuildInputs):
        self.inputs = inputs
        self.seconds: dict[str, float] = {}  # source name -> seconds it took to build
        self._built: dict[str, CalibrationSet] = {}

    def __call__(self, source: CalibrationSource) -> CalibrationSet:
        """The source's sequences, cut at the budget (the last one short)."""
        if source.name not in self._built:
            started = time.perf_counter()
            built = source.build(self.inputs).within_budget(self.inputs.settings.tokens)
            if built.tokens == 0:
                raise CalibrationError(
                    f"calibration source {source.name} gave no tokens; give non-empty sequences and a positive "
                    "calibration tokens budget"
                )
            self._built[source.name] = built
            self.seconds[source.name] = time.perf_counter() - started
            log.info("calibration %s: %d sequences, %d tokens", source.name, len(built), built.tokens)
        return self._built[source.name]

    def manifest(self, source: CalibrationSource) -> dict:
        """What a variant was calibrated on: tokens by part (prompt, generated chain of thought) and what the
        source reports. Its settings are the plan's calibration fingerprint."""
        built = self(source)
        return {
            "source": source.name,
            "tokens": built.tokens,
            "prompt_tokens": built.prompt_tokens,
            "generated_tokens": built.tokens - built.prompt_tokens,
            "sequences": len(built),
            "content_sha256": built.content_hash(),
            **built.facts,
            "seconds": self.seconds[source.name],
        }

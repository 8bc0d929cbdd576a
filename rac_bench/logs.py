"""Logging for the command line and for worker processes: rac-bench's own messages at INFO, the libraries'
at ERROR unless --verbose."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("rac_bench").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("lm_eval", "lm-eval", "transformers", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not verbose:  # transformers' "Loading weights" bar would put lines before a one-line error
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:  # imported already (by a caller): it read the variable then
            sys.modules["transformers"].utils.logging.disable_progress_bar()

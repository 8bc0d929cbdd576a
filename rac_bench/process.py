"""The rac-bench process's start and end: the library work no command needs, skipped. Measured on the 2-core
machine (benchmarks/README.md, "The default run on two cores"), both are about a second of a 15-second default run.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable


def skip_scikit_learn() -> None:
    """Tell transformers that scikit-learn is absent, before its generation module loads. transformers imports
    `sklearn.metrics` (about 0.8 s with what it pulls in) whenever scikit-learn is installed, and lm-eval installs
    it, for one use: assisted generation's confidence threshold (`generation/candidate_generator.py`), which rac-bench
    never runs. Called by the commands that load models, right before their first heavy import."""
    if "transformers.generation" in sys.modules:
        return  # too late to matter, and the check is cached by then
    from transformers import utils

    utils.is_sklearn_available = utils.import_utils.is_sklearn_available = lambda: False


def run_without_teardown(main: Callable[[], int]) -> None:
    """Run `main`, then exit with its code once every exit handler has run, skipping the interpreter's teardown of
    the modules: about 1.2 s after torch, transformers and lm-eval were imported, after everything was written.
    The handler is registered before `main` runs, so it runs last (atexit runs in reverse order): multiprocessing's
    handlers and every `weakref.finalize` (a vLLM engine's shutdown) run before it."""
    code = 1  # an exception escaped `main`: its traceback is printed before the exit handlers run

    def leave() -> None:
        logging.shutdown()  # registered when logging was imported, before this handler: it would run after
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe (`rac-bench ... | head`) or stream
                pass
        os._exit(code)

    atexit.register(leave)
    try:
        code = main()
    except SystemExit as leaving:  # argparse's --help and --version
        code = leaving.code if isinstance(leaving.code, int) else int(leaving.code is not None)
        raise
    sys.exit(code)

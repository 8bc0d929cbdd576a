"""Errors a user can cause. The CLI prints their one-line message and exits 2, without a traceback."""


class RacBenchError(Exception):
    """Bad input: the message says what was wrong and what is accepted."""


class ConfigError(RacBenchError):
    """An invalid option, flag or config-file value."""


class ModelLoadError(RacBenchError):
    """A model path or hub id that cannot be loaded."""


class CalibrationError(RacBenchError):
    """A calibration set that is missing, empty or malformed."""


class DataError(RacBenchError):
    """A task data file that is missing or malformed."""


class StoreError(RacBenchError):
    """A results store or baseline file that is missing, corrupt, foreign or does not match the run."""


class DiskFullError(RacBenchError):
    """No space left where rac-bench writes (the store, the output or cache directory): what was finished is kept."""


class MethodFailure(Exception):
    """A compression method raised while pruning: neither bad input (2) nor a regression (1); the CLI exits 3."""


def first_line(error: BaseException) -> str:
    """A foreign exception's message in one line (hub and file errors span many), or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

"""The embedded tiny reasoning model: its weights and tokenizer (tiny-reasoner/) and the code that made them."""

from pathlib import Path

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parent / "tiny-reasoner"
EMBEDDED_MODEL_NAME = "rac-bench/tiny-reasoner"


def is_embedded(reference: str | None) -> bool:
    """Whether a model reference names the embedded model (None, or its directory)."""
    return reference is None or Path(reference).expanduser().resolve() == EMBEDDED_MODEL_DIR

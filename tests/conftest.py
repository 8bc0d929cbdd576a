import os

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Traces, checkpoints and the results store go to a per-test directory, never the user's."""
    monkeypatch.setenv("RAC_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RAC_BENCH_STORE", str(tmp_path / "store" / "results.sqlite"))


@pytest.fixture(scope="session")
def embedded():
    from rac_bench.models import load_model

    return load_model(None)


def tiny_qwen2(seed: int = 0, hidden: int = 64, layers: int = 2):
    """A randomly initialised Qwen2 model built from a config (no download)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=97,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=hidden // 2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
    )
    return Qwen2ForCausalLM(config).eval()

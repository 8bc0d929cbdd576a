import os
import subprocess
from pathlib import Path

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True, scope="session")
def isolated_session_store(tmp_path_factory):
    """Module- and session-scoped fixtures run before the per-test fixture below, so the whole session starts
    with its own cache and results store too: never the user's, and never a store left by an earlier session."""
    directory = tmp_path_factory.mktemp("session")
    saved = {name: os.environ.get(name) for name in ("RAC_BENCH_CACHE", "RAC_BENCH_STORE")}
    os.environ["RAC_BENCH_CACHE"] = str(directory / "cache")
    os.environ["RAC_BENCH_STORE"] = str(directory / "store" / "results.sqlite")
    yield
    for name, value in saved.items():
        os.environ.pop(name) if value is None else os.environ.update({name: value})


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Traces, checkpoints and the results store go to a per-test directory, never the user's; and the data
    directory a command exports for lm-eval's task loaders (rac_bench.dense_model) ends with its test."""
    monkeypatch.setenv("RAC_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RAC_BENCH_STORE", str(tmp_path / "store" / "results.sqlite"))
    monkeypatch.setenv("RAC_BENCH_DATA_DIR", "")  # recorded, so that teardown restores what was there before
    monkeypatch.delenv("RAC_BENCH_DATA_DIR")


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


# fields of a cell and of its results that measure time (or where and when), which no rerun can reproduce
TIMING = {
    "eval_seconds",
    "generate_seconds",
    "tokens_per_second",
    "latency_seconds",
    "prune_seconds",
    "calibration_seconds",
    "engine_startup_seconds",
    "run_id",
    "provenance",
    "resumed_samples",
    "pruning",
    "checkpoint",
    "seconds_per_problem",  # the cost columns measured in time (rac_bench.cost); weight_bytes stays
    "seconds_per_correct",
    "decode_speedup",
    "load_average",
}


def without_timing(record: dict) -> dict:
    return {k: without_timing(v) if k in ("results", "cost") and v else v for k, v in record.items() if k not in TIMING}


def store_results(path):
    """Cells (without timings) and samples (without seconds) of a store, keyed by cell, and how many samples
    each method's cell took back from an interrupted run."""
    from rac_bench.store import Store

    store = Store(path, read_only=True)
    try:
        cells = {c.key: without_timing(c.to_dict()) for c in store.latest_cells()}
        samples = {key: [{k: v for k, v in s.items() if k != "seconds"} for s in store.samples(key)] for key in cells}
        resumed = {c.identity.method: c.results.resumed_samples for c in store.latest_cells()}
    finally:
        store.close()
    return cells, samples, resumed


def make_cell(key: str, run_id: str, identity):
    """A finished cell with placeholder results, for tests of the store itself."""
    from rac_bench.cells import Cell, CellResults
    from rac_bench.metrics import Estimate

    zero = Estimate(0.0, 0.0, 0.0, 0.0)
    results = CellResults(
        problems=1,
        samples=1,
        accuracy=zero,
        pass_at_k={"1": zero},
        maj_at_k={},
        accuracy_completed=zero,
        accuracy_truncated=None,
        thinking_tokens=zero,
        answer_tokens=0.0,
        truncation=zero,
        thinking_distribution={},
        self_corrections=zero,
        self_correction_unit="retries per response",
        latency_seconds=0.0,
        first_token_seconds=None,
        seconds_per_output_token=None,
        generated_tokens=0,
        eval_seconds=0.0,
        generate_seconds=0.0,
        tokens_per_second=0.0,
        resumed_samples=0,
        lm_eval={},
        lm_eval_task={},
    )
    return Cell(key, run_id, identity, "model", "variant", {}, "hf", 0.0, None, None, 0.0, 0.0, {}, results)


def can_mount() -> bool:
    try:
        probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"]
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def read_only_to_commands(directory: Path) -> tuple[str, ...]:
    """A command prefix under which `directory` is read-only. root ignores file modes, so for root it is a
    read-only bind mount in a private mount namespace (a read-only filesystem); for anyone else, its mode."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return ()
    if not can_mount():
        pytest.skip("root without CAP_SYS_ADMIN: cannot make a directory read-only to itself")
    remount = f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory}"
    return ("unshare", "-m", "sh", "-c", f'{remount} && exec "$0" "$@"')

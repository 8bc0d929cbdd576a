"""The dense fingerprint remembered by the model's files (issue 32's cached rerun): found again only for the very
same files, dtype and loading code; any change is a miss, so a rerun never reuses cells of other weights."""

import os

from rac_bench import dense_fingerprints
from rac_bench.dense_fingerprints import remember, remembered


def model_directory(tmp_path):
    directory = tmp_path / "model"
    (directory / "sub").mkdir(parents=True)
    (directory / "config.json").write_text("{}")
    (directory / "model.safetensors").write_bytes(b"weights")
    (directory / "sub" / "tokenizer.json").write_text("{}")
    return directory


def test_the_same_files_find_the_fingerprint_and_any_change_misses(tmp_path):
    directory, cache = model_directory(tmp_path), tmp_path / "cache"
    assert remembered(str(directory), "float32", cache) is None
    remember(str(directory), "float32", cache, "abc123")
    assert remembered(str(directory), "float32", cache) == "abc123"
    assert remembered(str(directory), "bfloat16", cache) is None  # another dtype loads other weights
    (directory / "sub" / "tokenizer.json").write_text('{"chat_template": "x"}')  # a nested file changes
    assert remembered(str(directory), "float32", cache) is None
    remember(str(directory), "float32", cache, "def456")
    weights = directory / "model.safetensors"
    stat = weights.stat()
    weights.write_bytes(b"WEIGHTS")  # same size, same modification time: the inode or time still differs
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert remembered(str(directory), "float32", cache) is None


def test_other_loading_code_misses(tmp_path, monkeypatch):
    directory, cache = model_directory(tmp_path), tmp_path / "cache"
    remember(str(directory), "float32", cache, "abc123")
    monkeypatch.setattr(dense_fingerprints, "LOADING_PACKAGES", ("torch", "transformers", "no-such-package-x"))
    assert remembered(str(directory), "float32", cache) is None  # a version changed: the record key differs


def test_only_local_directories_are_remembered(tmp_path):
    cache = tmp_path / "cache"
    remember("some-org/some-model", "float32", cache, "abc123")  # a hub id: resolved by loading, never remembered
    assert remembered("some-org/some-model", "float32", cache) is None
    assert not cache.exists()

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rac_bench.cli import main
from rac_bench.pruning.layout import find_decoder_layers


def test_prune_writes_a_loadable_n_m_checkpoint_with_its_report(tmp_path, capsys):
    out = tmp_path / "pruned"
    assert (
        main(
            [
                "prune",
                "--method",
                "sparsegpt",
                "--pattern",
                "2:4",
                "--out",
                str(out),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--calibration-tokens",
                "800",
            ]
        )
        == 0
    )
    assert "checkpoint written to" in capsys.readouterr().out
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template
    for layer in find_decoder_layers(model):
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                groups = (module.weight == 0).reshape(module.weight.shape[0], -1, 4).sum(-1)
                assert torch.all(groups == 2)
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["pattern"] == "2:4" and report["sparsity"] == pytest.approx(0.5)
    assert len(report["layers"]) == 7 * len(find_decoder_layers(model)) and report["variant_fingerprint"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pruned-")]  # no staging left behind


def test_prune_takes_sparsity_and_pattern_from_the_config_when_the_flags_are_left_out(tmp_path, capsys):
    config = tmp_path / "prune.yaml"
    config.write_text("sparsity: 0.3\npattern: unstructured\n")
    out = tmp_path / "pruned"
    assert main(["prune", "--config", str(config), "--method", "magnitude", "--out", str(out)]) == 0
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["pattern"] == "unstructured" and report["sparsity"] == pytest.approx(0.3, abs=0.01)


def test_prune_refuses_dense_and_an_existing_directory(tmp_path, capsys):
    assert main(["prune", "--method", "dense", "--out", str(tmp_path / "new")]) == 2
    assert "dense prunes nothing" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main(["prune", "--method", "magnitude", "--out", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_traces_are_built_ahead_of_time_and_reused_by_a_run(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(["traces", "--calibration-tokens", "500", "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert "on-policy traces, 500 tokens" in printed
    [trace_dir] = list((cache / "traces").iterdir())
    assert str(trace_dir) in printed
    chunks = sorted(trace_dir.glob("chunk-*.jsonl"))
    before = [chunk.stat().st_mtime_ns for chunk in chunks]
    assert (
        main(
            [
                "prune",
                "--method",
                "rac",
                "--calibration-tokens",
                "500",
                "--cache-dir",
                str(cache),
                "--out",
                str(tmp_path / "rac"),
            ]
        )
        == 0
    )
    assert [chunk.stat().st_mtime_ns for chunk in chunks] == before  # read back, not sampled again
    assert list((cache / "traces").iterdir()) == [trace_dir]

"""Models compressed by other tools as rows: `LABEL=checkpoint:DIR` is evaluated as a variant of the run's model,
with Δ, thinking ratio and KL against it, its sparsity counted in its weights and its files in its fingerprint."""

from __future__ import annotations

import json

import torch

from rac_bench.cli import main
from rac_bench.models import load_model
from rac_bench.pruning.layout import find_decoder_layers


def fake_quantized(directory, bits: int) -> None:
    """The embedded model with every decoder linear weight rounded to `bits`-bit symmetric per-row integers and
    stored dequantized (fake-quant), as a quantization tool exports it for evaluation."""
    model, tokenizer = load_model(None)
    levels = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for layer in find_decoder_layers(model):
            for module in layer.modules():
                if isinstance(module, torch.nn.Linear):
                    scale = module.weight.abs().amax(dim=1, keepdim=True) / levels
                    module.weight.copy_(torch.round(module.weight / scale).clamp(-levels, levels) * scale)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def cells_of(out) -> dict:
    return {c["identity"]["method"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}


def test_outside_pruned_and_fake_quantized_checkpoints_sit_beside_rac(tmp_path, capsys):
    pruned, quantized = tmp_path / "pruned", tmp_path / "quantized"
    assert main(["prune", "--method", "wanda", "--out", str(pruned)]) == 0
    fake_quantized(quantized, bits=4)
    methods = f"rac,wanda-elsewhere=checkpoint:{pruned},w4=checkpoint:{quantized}"
    argv = ["run", "--methods", methods, "--limit", "40"]
    assert main([*argv, "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "wanda-elsewhere  -" in plan and "w4  " in plan
    assert main([*argv, "--output-dir", str(tmp_path / "first")]) == 0
    table = capsys.readouterr().out
    assert "wanda-elsewhere" in table and "w4" in table
    cells = cells_of(tmp_path / "first")
    assert set(cells) == {"dense", "rac", "wanda-elsewhere", "w4"}
    for label in ("wanda-elsewhere", "w4"):
        cell = cells[label]
        assert cell["identity"]["pattern"] == "checkpoint" and cell["results"]["delta_vs_dense"] and cell["results"]["thinking_ratio"]
        assert cell["drift"]["kl"]["value"] > 0 and cell["checkpoint"] == str(
            (tmp_path / label.replace("wanda-elsewhere", "pruned").replace("w4", "quantized")).resolve()
        )
    assert cells["wanda-elsewhere"]["achieved_sparsity"]["prunable"] == 0.5
    assert cells["w4"]["achieved_sparsity"]["prunable"] < 0.2  # quantization rounds only small weights to 0

    fake_quantized(quantized, bits=2)  # other files at the same path: another cell
    assert main([*argv, "--output-dir", str(tmp_path / "second")]) == 0
    again = cells_of(tmp_path / "second")
    assert (
        again["w4"]["key"] != cells["w4"]["key"]
        and again["w4"]["variant_fingerprint"] != cells["w4"]["variant_fingerprint"]
    )
    assert again["wanda-elsewhere"]["key"] == cells["wanda-elsewhere"]["key"]  # unchanged files: the stored cell
    assert again["w4"]["drift"]["kl"]["value"] > cells["w4"]["drift"]["kl"]["value"]  # 2 bits drift further


def test_an_outside_checkpoint_of_another_model_or_no_model_is_one_line(tmp_path, capsys):
    assert main(["run", "--methods", f"x=checkpoint:{tmp_path}", "--limit", "5"]) == 2
    assert "is not a model directory (no config.json)" in capsys.readouterr().err
    assert main(["run", "--methods", "checkpoint", "--limit", "5"]) == 2
    assert "names no directory" in capsys.readouterr().err

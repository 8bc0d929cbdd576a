"""Calibration sources per method (`METHOD@SOURCE`): text windows, off-policy trace files, the token budget,
and what each puts into a variant's fingerprint."""

import json
import logging
from pathlib import Path

import pytest
import torch
from conftest import tiny_qwen2
from test_calibration import R1_LIKE_TEMPLATE, make_provider

from rac_bench.calibration.sequences import CalibrationSet
from rac_bench.calibration.sources import parse_source
from rac_bench.calibration.sources.prompts import PromptRenderer
from rac_bench.calibration.sources.text import TextCorpus, text_sequences
from rac_bench.calibration.sources.trace_file import read_trace_file
from rac_bench.cli import main
from rac_bench.config_loader import build_config
from rac_bench.errors import CalibrationError, ConfigError
from rac_bench.methods.spec import parse_method_spec
from rac_bench.plan import build_plan
from rac_bench.pruning.engine import prune_model
from rac_bench.pruning.pattern import SparsityTarget
from rac_bench.pruning.sparsegpt import sparsegpt_prune

CORPUS = Path(__file__).parent / "fixtures" / "calibration_text.txt"


def test_text_source_cuts_seeded_windows_of_the_corpus(embedded):
    _, tokenizer = embedded
    windows = text_sequences(tokenizer, TextCorpus(str(CORPUS), windows=6, length=100, seed=1))
    text = CORPUS.read_text()
    assert len(windows) == 6 and all(len(window) == 100 for window in windows)
    assert all(tokenizer.decode(window, skip_special_tokens=True) in text for window in windows)
    again = text_sequences(tokenizer, TextCorpus(str(CORPUS), windows=6, length=100, seed=1))
    other = text_sequences(tokenizer, TextCorpus(str(CORPUS), windows=6, length=100, seed=2))
    assert all(torch.equal(a, b) for a, b in zip(windows, again))
    assert not all(torch.equal(a, b) for a, b in zip(windows, other))


def test_text_source_reads_jsonl_documents_and_rejects_a_corpus_shorter_than_a_window(embedded, tmp_path):
    _, tokenizer = embedded
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": part}) + "\n" for part in CORPUS.read_text().split("\n\n")))
    [window] = text_sequences(tokenizer, TextCorpus(str(corpus), windows=1, length=200))
    assert len(window) == 200
    with pytest.raises(CalibrationError, match="fewer than one window of 100000"):
        text_sequences(tokenizer, TextCorpus(str(corpus), windows=1, length=100000))
    corpus.write_text('{"title": "no text field"}\n')
    with pytest.raises(CalibrationError, match="corpus.jsonl:1 is not a JSON object with a string .text. field"):
        text_sequences(tokenizer, TextCorpus(str(corpus), windows=1, length=10))


def test_trace_file_accepts_ids_and_text_and_keeps_the_chain_of_thought(embedded, tmp_path):
    _, tokenizer = embedded
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = R1_LIKE_TEMPLATE  # strips <think> from rendered assistant turns
    path = tmp_path / "traces.jsonl"
    response = "<think>2+3=5;5+4=9</think>9"
    path.write_text(
        json.dumps({"prompt": "Compute 2+3+4 from left to right.", "response": response})
        + "\n\n"
        + json.dumps({"prompt_ids": [5, 6, 7], "generated_ids": [8, 9]})
        + "\n"
    )
    calibration = read_trace_file(path, PromptRenderer(tokenizer))
    rendered = tokenizer(PromptRenderer(tokenizer).text("Compute 2+3+4 from left to right."), add_special_tokens=False)
    first = calibration.sequences[0]
    assert calibration.prompt_lengths == [len(rendered.input_ids), 3]
    assert first[: len(rendered.input_ids)].tolist() == rendered.input_ids
    assert tokenizer.decode(first[len(rendered.input_ids) :]) == response
    assert calibration.sequences[1].tolist() == [5, 6, 7, 8, 9]
    cut = read_trace_file(path, PromptRenderer(tokenizer, max_tokens=5))  # the calibration's rendering settings
    assert cut.prompt_lengths == [5, 3] and cut.sequences[0][:5].tolist() == rendered.input_ids[-5:]


@pytest.mark.parametrize(
    "line, message",
    [('{"prompt": "q"}', "traces.jsonl:1 is not a trace record"), ("[1, 2]", "not a trace record"), ("", "no traces")],
)
def test_malformed_trace_files_are_rejected(embedded, tmp_path, line, message):
    path = tmp_path / "traces.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(CalibrationError, match=message):
        read_trace_file(path, PromptRenderer(embedded[1]))


def test_method_specs_name_a_source_or_default_to_the_methods_own(tmp_path):
    traces = tmp_path / "t.jsonl"
    traces.write_text("")
    assert parse_method_spec("sparsegpt").source.name == "prompts"
    assert parse_method_spec("rac").source.name == "traces"
    assert parse_method_spec("rac-wanda").source.name == "traces"
    assert parse_method_spec("magnitude").source is None
    assert parse_method_spec("wanda@traces").canonical == "wanda@traces"
    assert parse_method_spec(f"sparsegpt@traces:{traces}").source.name == f"traces:{traces}"
    for spec, message in [
        ("magnitude@text", "magnitude takes no calibration data"),
        ("dense@prompts", "dense takes no calibration data"),
        ("sparsegpt@c4", "unknown calibration source 'c4'"),
        ("sparsegpt@traces:/no/such.jsonl", "trace file /no/such.jsonl does not exist"),
        ("nope@text", "unknown method 'nope'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_method_spec(spec)


def fingerprint_of(spec, tmp_path, **calibration):
    """The variant's fingerprint with these `calibration:` settings in a config file."""
    config_file = tmp_path / "fingerprint.yaml"
    config_file.write_text(json.dumps({"calibration": calibration}))
    config = build_config(config_file, {"methods": spec, "output_dir": tmp_path / "out"})
    return build_plan(config).variants[1].fingerprint("model")


def test_fingerprints_follow_the_source_its_settings_and_a_trace_files_content(tmp_path):
    traces = tmp_path / "t.jsonl"
    traces.write_text('{"prompt_ids": [1], "generated_ids": [2]}\n')
    plain = fingerprint_of("sparsegpt", tmp_path)
    assert fingerprint_of("sparsegpt@prompts", tmp_path) == plain
    assert fingerprint_of("sparsegpt@traces", tmp_path) != plain
    text = fingerprint_of("sparsegpt@text", tmp_path, text=str(CORPUS))
    assert text != plain
    assert fingerprint_of("sparsegpt@text", tmp_path, text=str(CORPUS), text_length=64) != text
    assert fingerprint_of("sparsegpt", tmp_path, tokens=1000) != plain
    from_file = fingerprint_of(f"sparsegpt@traces:{traces}", tmp_path)
    traces.write_text('{"prompt_ids": [1], "generated_ids": [3]}\n')
    assert fingerprint_of(f"sparsegpt@traces:{traces}", tmp_path) != from_file
    assert fingerprint_of("rac", tmp_path, cot_weight=0.5) != fingerprint_of("rac", tmp_path)
    assert fingerprint_of("sparsegpt", tmp_path, cot_weight=0.5) == plain  # prompts carry no chain of thought


def test_token_budget_keeps_the_first_tokens_in_sequence_order():
    calibration = CalibrationSet([torch.arange(5), torch.arange(10, 16), torch.arange(20, 24)], [2, 4, 4])
    capped = calibration.within_budget(8)
    assert [s.tolist() for s in capped] == [[0, 1, 2, 3, 4], [10, 11, 12]]
    assert capped.prompt_lengths == [2, 3] and capped.tokens == 8
    assert calibration.within_budget(None) is calibration and calibration.within_budget(100).tokens == 15
    assert [w.tolist() for w in capped.token_weights(0.5)] == [[1, 1, 0.5, 0.5, 0.5], [1, 1, 1]]
    assert capped.token_weights(None) is None


def test_provider_caps_every_source_at_the_token_budget(embedded, tmp_path):
    model, tokenizer = embedded
    provider = make_provider(model, tokenizer, tmp_path, tokens=50)
    assert provider(parse_source("prompts")).tokens == 50


def test_fewer_tokens_than_the_layer_width_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="rac_bench"):
        prune_model(tiny_qwen2(), sparsegpt_prune, SparsityTarget(0.5), [torch.randint(0, 97, (20,))], progress=False)
    assert "only 20 calibration tokens for layer inputs 128 wide" in caplog.text


def prune_cli(tmp_path, *arguments):
    out = tmp_path / "pruned"
    cache = tmp_path / "cache"
    code = main(["prune", *arguments, "--out", str(out), "--cache-dir", str(cache)])
    return code, out, cache


def test_prune_calibrates_on_text_windows_within_the_token_budget(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"calibration: {{text: {CORPUS}, tokens: 256, text_length: 64}}\n")
    code, out, _ = prune_cli(tmp_path, "--config", str(config), "--method", "sparsegpt@text")
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "rac_bench_report.json").read_text())
    assert report["method"] == "sparsegpt@text" and report["calibration_tokens"] == 4 * 64
    assert report["calibration"]["windows"] == 4 and report["calibration"]["generated_tokens"] == 0
    code, out, _ = prune_cli(
        tmp_path / "b", "--config", str(config), "--method", "sparsegpt@text", "--calibration-tokens", "100"
    )
    assert code == 0 and json.loads((out / "rac_bench_report.json").read_text())["calibration_tokens"] == 100


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--method", "sparsegpt@traces:{empty}"], "gave no tokens"),
        (
            ["--method", "sparsegpt", "--calibration-tokens", "0"],
            "calibration.tokens (--calibration-tokens) must be a positive whole number",
        ),
        (["--method", "magnitude@text"], "magnitude takes no calibration data"),
        (
            ["--method", "rac", "--cot-weight", "-1"],
            "calibration.cot_weight (--cot-weight) must be a non-negative number",
        ),
        (["--method", "sparsegpt@text", "--calibration-text", "missing.txt"], "neither an existing .txt/.jsonl file"),
    ],
)
def test_unusable_calibration_exits_2_and_leaves_no_checkpoint(tmp_path, capsys, arguments, message):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"prompt_ids": [], "generated_ids": []}\n')
    code, out, cache = prune_cli(tmp_path, *[a.format(empty=empty) for a in arguments])
    stderr = capsys.readouterr().err
    # the last line is the error; any line before it is transformers' weight-loading progress bar
    assert code == 2 and message in stderr.strip().splitlines()[-1] and "Traceback" not in stderr, stderr
    assert not out.exists() and not (cache / "checkpoints").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pruned-")]


def test_a_runs_cells_carry_the_method_spec_as_their_label(tmp_path):
    output = tmp_path / "out"
    config = tmp_path / "c.yaml"
    config.write_text("calibration: {tokens: 256, text_length: 64}\n")
    code = main(
        ["run", "--config", str(config), "--methods", "sparsegpt@text", "--calibration-text", str(CORPUS)]
        + ["--limit", "4", "--output-dir", str(output), "--cache-dir", str(tmp_path / "cache")]
    )
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    assert [cell["identity"]["method"] for cell in summary["cells"]] == ["dense", "sparsegpt@text"]
    assert summary["cells"][1]["pruning"]["method"] == "sparsegpt@text"


def test_a_run_with_unusable_calibration_exits_2_before_evaluating_or_writing(tmp_path, capsys):
    output = tmp_path / "out"
    code = main(
        ["run", "--methods", "sparsegpt@text", "--calibration-text", str(CORPUS), "--limit", "4"]
        + ["--output-dir", str(output), "--cache-dir", str(tmp_path / "cache")]
    )
    assert code == 2 and "fewer than one window of 2048" in capsys.readouterr().err
    assert not output.exists()


def test_cot_weight_zero_turns_rac_back_into_prompt_calibration_through_the_cli(tmp_path):
    """The flag reaches the Hessian: weight 0 on the generated tokens leaves rac's prompts, which are the first
    prompts of the same prompt set, so rac's layer errors become those of sparsegpt given exactly those prompt
    tokens as its budget (up to float order)."""
    code, out, _ = prune_cli(tmp_path / "rac", "--method", "rac", "--cot-weight", "0", "--calibration-tokens", "2000")
    assert code == 0
    rac = json.loads((out / "rac_bench_report.json").read_text())
    prompt_tokens = rac["calibration"]["prompt_tokens"]
    assert 0 < prompt_tokens < rac["calibration_tokens"] == 2000
    code, out, _ = prune_cli(
        tmp_path / "sparsegpt", "--method", "sparsegpt", "--calibration-tokens", str(prompt_tokens)
    )
    assert code == 0
    sparsegpt = json.loads((out / "rac_bench_report.json").read_text())
    # the same Hessians up to summation order (the weighted tokens are flushed in other groups): the first layer's
    # errors agree to 1e-5 but where that order flips a near-tie in a mask, and such flips carry into later layers
    first = [(a, b) for a, b in zip(rac["layers"], sparsegpt["layers"]) if a["name"].startswith("layers.0.")]
    agreeing = [a for a, b in first if a["relative_error"] == pytest.approx(b["relative_error"], rel=1e-5)]
    assert len(agreeing) >= len(first) - 1
    assert rac["mean_relative_error"] == pytest.approx(sparsegpt["mean_relative_error"], rel=1e-2)
    code, out, _ = prune_cli(tmp_path / "plain", "--method", "rac", "--calibration-tokens", "2000")
    plain = json.loads((out / "rac_bench_report.json").read_text())
    assert plain["mean_relative_error"] != pytest.approx(rac["mean_relative_error"], rel=5e-2)


def test_a_run_calibrated_on_a_trace_file_stores_and_exports_its_cells(tmp_path):
    traces = tmp_path / "r1 traces" / "off-policy.jsonl"  # a path with a space and folders, as users have
    traces.parent.mkdir()
    records = [
        {"prompt": f"Compute {a}+{b} from left to right.", "response": f"<think>{a}+{b}={a + b}</think>{a + b}"}
        for a, b in ((2, 3), (10, 7), (31, 8), (4, 4))
    ]
    traces.write_text("".join(json.dumps(r) + "\n" for r in records))
    output = tmp_path / "out"
    argv = ["run", "--methods", f"sparsegpt@traces:{traces}", "--limit", "4", "--output-dir", str(output)]
    assert main(argv) == 0
    exports = sorted(p.name for p in (output / "lm_eval").iterdir())
    assert len(exports) == 2 and all("/" not in name and name.endswith(".json") for name in exports)
    labels = [json.loads((output / "lm_eval" / name).read_text())["config"]["method"] for name in exports]
    assert sorted(labels) == ["dense", f"sparsegpt@traces:{traces}"]

import re
from dataclasses import replace

import torch

from rac_bench.backends import ModelHandle, create_backend
from rac_bench.calibration.prompt_sets import QuestionStream
from rac_bench.calibration.provider import CalibrationProvider
from rac_bench.calibration.sources import BuildInputs, parse_source
from rac_bench.calibration.sources.prompts import PromptRenderer
from rac_bench.calibration.sources.traces import load_traces, trace_cache_dir
from rac_bench.config import CalibrationSettings, ExecutionSettings
from rac_bench.errors import CalibrationError
from rac_bench.fingerprint import weights_fingerprint

PROMPTS, TRACES = parse_source("prompts"), parse_source("traces")


def make_provider(model, tokenizer, cache_dir, batch_size=64, **settings):
    """The embedded prompt set at seed 0, the default calibration settings with `settings` over them (traces at
    temperature 0.6, top-p 0.95), on HF generation."""
    execution = ExecutionSettings(backend="hf", device="cpu", dtype="float32", batch_size=batch_size)
    settings = replace(CalibrationSettings(prompts="rac_arith"), **settings)
    inputs = BuildInputs(
        tokenizer=tokenizer,
        model_fingerprint=weights_fingerprint(model),
        settings=settings,
        seed=0,
        data_dir=None,
        cache_dir=cache_dir,
        questions=QuestionStream("rac_arith", 0),
        renderer=PromptRenderer.of(tokenizer, settings),
        backend=lambda: create_backend(ModelHandle(model, tokenizer, ""), execution),
        backend_identity={"backend": "hf", "batch_size": execution.batch_size},
        progress=False,
    )
    return CalibrationProvider(inputs)


def test_rac_calibration_contains_the_dense_models_own_chain_of_thought(embedded, tmp_path):
    model, tokenizer = embedded
    provider = make_provider(model, tokenizer, tmp_path, tokens=600)
    prompts, traces = provider(PROMPTS), provider(TRACES)
    think_close = tokenizer.convert_tokens_to_ids("</think>")
    for prompt, trace in list(zip(prompts, traces))[:-1]:  # the last of each is cut at the budget
        assert torch.equal(trace[: len(prompt)], prompt)  # the same questions in the same order
        continuation = trace[len(prompt) :]
        assert think_close in continuation.tolist()  # the generated chain of thought, not just the prompt
    # cached: a second provider reads the same traces back instead of sampling new ones
    directory = trace_cache_dir(provider.inputs)
    again = make_provider(model, tokenizer, tmp_path, tokens=600)
    assert trace_cache_dir(again.inputs) == directory
    assert all(torch.equal(a, b) for a, b in zip(again(TRACES), traces))
    cached = [record for chunk in sorted(directory.glob("chunk-*.jsonl")) for record in load_traces(chunk)]
    assert [r["prompt_ids"] + r["generated_ids"] for r in cached][: len(traces) - 1] == [
        t.tolist() for t in traces.sequences[:-1]
    ]


def test_malformed_trace_file_is_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt_ids": [1, 2]}\n')
    try:
        load_traces(path)
    except CalibrationError as error:
        assert "bad.jsonl:1" in str(error)
    else:
        raise AssertionError("a trace without generated_ids was accepted")


# DeepSeek-R1's template keeps only what follows </think> in an assistant turn.
R1_LIKE_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>{{ message['content'] }}<|end|>"
    "{% else %}<|assistant|>{{ message['content'].split('</think>')[-1] }}<|end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_traces_keep_the_chain_of_thought_under_a_template_that_strips_it(embedded, tmp_path):
    model, tokenizer = embedded
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = R1_LIKE_TEMPLATE
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>1+2=3</think>3"}], tokenize=False
    )
    assert "</think>" not in rendered  # re-rendering the assistant turn would lose the thinking
    provider = make_provider(model, tokenizer, tmp_path, tokens=300)
    think_close = tokenizer.convert_tokens_to_ids("</think>")
    assert all(think_close in trace.tolist() for trace in provider(TRACES).sequences[:-1])


def test_openr1_math_prompts_come_from_a_local_copy_in_a_seeded_order(tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"  # made-up problems in OpenR1-Math-220k's schema
    first = QuestionStream("openr1_math", 0, fixtures).first(4)
    assert len(first) == 4 and len(set(first)) == 4
    assert all(q.endswith((".", "?")) for q in first)
    assert QuestionStream("openr1_math", 0, fixtures).first(4) == first
    assert QuestionStream("openr1_math", 1, fixtures).first(6) != QuestionStream("openr1_math", 0, fixtures).first(6)
    bad = tmp_path / "openr1_math.jsonl"
    bad.write_text('{"question": "no problem field"}\n')
    try:
        QuestionStream("openr1_math", 0, tmp_path).first(4)
    except CalibrationError as error:
        assert "openr1_math.jsonl:1" in str(error) and "'problem'" in str(error)
    else:
        raise AssertionError("a row without 'problem' was accepted")


def test_traces_cli_builds_traces_from_the_openr1_math_prompt_set(tmp_path, capsys):
    from pathlib import Path

    from rac_bench.cli import main

    fixtures = str(Path(__file__).parent / "fixtures")
    argv = ["traces", "--calibration-prompts", "openr1_math", "--data-dir", fixtures, "--calibration-tokens", "300"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "on-policy traces, 300 tokens" in printed
    # a budget this small needs only the first prompts that could reach it: none is sampled to be thrown away
    # (the last trace is still cut at the budget, so the generated tokens sampled exceed those kept)
    sampled = re.search(
        r"(\d+) on-policy traces, .*; sampled (\d+) traces, [\d,]+ generated tokens \(\d\.\d\dx", printed
    )
    assert sampled and sampled.group(1) == sampled.group(2), printed
    assert main(["traces", "--calibration-prompts", "c4"]) == 2
    assert "available: rac_arith, openr1_math" in capsys.readouterr().err


def test_traces_are_sampled_to_the_budget_not_past_it(embedded, tmp_path):
    """Chunks are sized from the tokens still needed and the lengths seen so far: the chain-of-thought tokens
    sampled are at most 1.25 times those kept (doubling chunks could throw away up to half)."""
    model, tokenizer = embedded
    for tokens in (16_384, 3_000):
        provider = make_provider(model, tokenizer, tmp_path / str(tokens), tokens=tokens)
        manifest = provider.manifest(TRACES)
        assert manifest["tokens"] == tokens and manifest["traces"] == manifest["sequences"]
        assert manifest["sampled_generated_tokens"] <= 1.25 * manifest["generated_tokens"], manifest

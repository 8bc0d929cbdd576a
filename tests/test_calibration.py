import torch

from rac_bench.backends.base import SamplingSettings
from rac_bench.calibration.provider import CalibrationProvider
from rac_bench.calibration.traces import load_traces
from rac_bench.errors import CalibrationError
from rac_bench.fingerprint import weights_fingerprint
from rac_bench.tasks import get_task


def test_rac_calibration_contains_the_dense_models_own_chain_of_thought(embedded, tmp_path):
    model, tokenizer = embedded
    questions = get_task("rac_arith").calibration_questions()[:8]
    provider = CalibrationProvider(
        model,
        tokenizer,
        questions,
        SamplingSettings(0.6, 0.95, 128, seed=0),
        weights_fingerprint(model),
        tmp_path,
        progress=False,
    )
    prompts, traces = provider("prompts"), provider("traces")
    think_close = tokenizer.convert_tokens_to_ids("</think>")
    for prompt, trace in zip(prompts, traces):
        assert torch.equal(trace[: len(prompt)], prompt)
        continuation = trace[len(prompt) :]
        assert think_close in continuation.tolist()  # the generated chain of thought, not just the prompt
        assert "=" in tokenizer.decode(continuation)
    # cached: a second provider reads the same traces back instead of sampling new ones
    path = provider.trace_path()
    again = CalibrationProvider(
        model,
        tokenizer,
        questions,
        SamplingSettings(0.6, 0.95, 128, seed=0),
        weights_fingerprint(model),
        tmp_path,
        progress=False,
    )
    assert again.trace_path() == path
    assert all(torch.equal(a, b) for a, b in zip(again("traces"), traces))
    assert len(load_traces(path)) == len(questions)


def test_malformed_trace_file_is_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt_ids": [1, 2]}\n')
    try:
        load_traces(path)
    except CalibrationError as error:
        assert "bad.jsonl:1" in str(error)
    else:
        raise AssertionError("a trace without generated_ids was accepted")

"""The two-lane local executor (rac_bench/executors/lanes.py) makes the same cells as one variant after another:
the same responses, token counts, accuracy and drift, stored in plan order. And a greedy task generated in one batch
gives the tokens of batches of 64, with each request's own finish time."""

import json
import subprocess
import sys

from rac_bench.backends.base import SamplingSettings
from rac_bench.backends.hf import HFBackend
from rac_bench.cli import main
from rac_bench.executors import lanes
from rac_bench.zoo.arithmetic import evaluation_problems

LIMIT = 24


def _run(tmp_path, name: str) -> tuple[list[dict], dict]:
    output = tmp_path / name
    arguments = ["run", "--methods", "magnitude,sparsegpt,rac", "--limit", str(LIMIT), "--output-dir", str(output)]
    places = ["--cache-dir", str(tmp_path / f"{name}-cache"), "--store", str(tmp_path / f"{name}.db")]
    assert main([*arguments, *places]) == 0
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    return samples, json.loads((output / "summary.json").read_text())


def _measured(sample: dict) -> tuple:
    return tuple(sample[k] for k in ("method", "doc_id", "response", "generated_tokens", "correct", "finish_reason"))


def test_two_lanes_store_what_one_lane_stores(tmp_path, monkeypatch):
    called = []
    fits = lanes.two_lanes_fit
    monkeypatch.setattr(lanes, "two_lanes_fit", lambda plan, dense: called.append(fits(plan, dense)) or called[-1])
    two_samples, two = _run(tmp_path, "two")
    assert called == [True]  # the embedded model, a fresh store: the worker took dense, magnitude and rac
    monkeypatch.setattr(lanes, "two_lanes_fit", lambda plan, dense: False)
    one_samples, one = _run(tmp_path, "one")
    assert [_measured(s) for s in two_samples] == [_measured(s) for s in one_samples]
    for cell_two, cell_one in zip(two["cells"], one["cells"]):
        assert cell_two["key"] == cell_one["key"]
        assert cell_two["results"]["accuracy"] == cell_one["results"]["accuracy"]
        assert cell_two.get("drift") == cell_one.get("drift")
        assert cell_two.get("delta_vs_dense") == cell_one.get("delta_vs_dense")


def test_a_resumed_run_takes_one_lane(tmp_path, monkeypatch):
    _run(tmp_path, "first")
    called = []
    fits = lanes.two_lanes_fit
    monkeypatch.setattr(lanes, "two_lanes_fit", lambda plan, dense: called.append(fits(plan, dense)) or called[-1])
    output = tmp_path / "again"
    # one variant more than the first run: a run whose every cell is stored is answered from the store alone
    # (rac_bench.stored_run) and never reaches the lanes
    methods = "magnitude,sparsegpt,rac,wanda"
    arguments = ["run", "--methods", methods, "--limit", str(LIMIT), "--output-dir", str(output)]
    assert main([*arguments, "--cache-dir", str(tmp_path / "first-cache"), "--store", str(tmp_path / "first.db")]) == 0
    assert called == [False]


HOLDING_THE_PROGRESS_LOCK = """
import sys
from tqdm import tqdm
from rac_bench.cli import main
from rac_bench.executors import lanes

fits = lanes.two_lanes_fit
lanes.two_lanes_fit = lambda plan, dense: print("two lanes:", fits(plan, dense)) or fits(plan, dense)
if __name__ == "__main__":
    with tqdm.get_lock():  # as a stopped worker, or this process's bar monitor at the fork, would leave it
        sys.exit(main(sys.argv[1:]))
"""


def test_the_worker_never_waits_on_a_progress_lock_this_process_holds(tmp_path):
    """The hang CI met: tqdm's default lock is shared across a fork, so a worker stopped while drawing a bar (a
    refused run's) left it held and the next run in that process waited forever. The worker now draws under a lock
    of its own; before that, this run never finished."""
    script = tmp_path / "hold.py"
    script.write_text(HOLDING_THE_PROGRESS_LOCK)
    arguments = ["run", "--methods", "magnitude", "--limit", "5", "--output-dir", str(tmp_path / "out")]
    places = ["--cache-dir", str(tmp_path / "cache"), "--store", str(tmp_path / "results.sqlite")]
    done = subprocess.run([sys.executable, str(script), *arguments, *places], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "two lanes: True" in done.stdout


def test_greedy_requests_in_one_batch_give_the_tokens_of_batches_of_64(embedded):
    model, tokenizer = embedded
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": problem.question}], tokenize=False, add_generation_prompt=True
        )
        for problem in evaluation_problems()[:150]
    ]
    settings = SamplingSettings(max_new_tokens=64)
    whole = HFBackend(model, tokenizer, 64, progress=False, greedy_batch_size=1024).generate(prompts, settings)
    batches = HFBackend(model, tokenizer, 64, progress=False).generate(prompts, settings)
    assert [g.token_ids for g in whole] == [g.token_ids for g in batches]
    # each request waited for its own tokens: the shortest finished before the longest
    by_length = sorted(whole, key=lambda g: g.generated_tokens)
    assert 0 < by_length[0].seconds <= by_length[-1].seconds

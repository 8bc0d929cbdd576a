"""What a run writes and under which keys: its output directory, its lm-eval exports, its printed table, and the
trace cache. Runs and variants never write over one another's files, and different samples never share a key."""

from dataclasses import replace

from conftest import make_cell

from rac_bench.cells import CellIdentity, CellResults
from rac_bench.config_loader import build_config
from rac_bench.export import lm_eval_results


def test_runs_started_in_the_same_second_get_their_own_output_directory():
    directories = {build_config(None, {}).output_dir for _ in range(20)}
    assert len(directories) == 20
    assert all(d.parent.name == "rac-bench-runs" and not d.exists() for d in directories)  # made when written


def test_variants_whose_labels_make_the_same_file_name_get_their_own_export(tmp_path):
    cells = [
        replace(
            make_cell(f"k{i}", "r", CellIdentity("m", "t", method, "unstructured", 0.5)),
            settings={"limit": None, "seed": 0},
            provenance={"git_commit": None},
        )
        for i, method in enumerate(["a b", "a_b", "c"])
    ]
    documents = lm_eval_results(cells)
    assert len(documents) == 3
    methods = {name: document["config"]["method"] for name, document in documents.items()}
    assert methods["m__c-0.5"] == "c"
    assert sorted(methods.values()) == ["a b", "a_b", "c"]
    assert all(name.startswith("m__a_b-0.5-") for name, method in methods.items() if method != "c")


def test_the_printed_table_shows_pass_and_maj_at_n_when_a_task_draws_several_samples():
    from rac_bench.leaderboard.text import render_text
    from rac_bench.metrics import Estimate

    single = make_cell("k1", "r", CellIdentity("m", "t", "dense", "unstructured", 0.0))
    estimate = Estimate(0.5, 0.25, 0.75, 0.1)
    pass_and_maj = {"pass_at_k": {"1": estimate, "2": estimate}, "maj_at_k": {"2": estimate}}
    results = CellResults({**single.results, "samples": 4, "problems": 2, **pass_and_maj})
    several = replace(single, key="k2", results=results)
    assert "pass@n" not in render_text([single], "terminal")
    table = render_text([several], "terminal")
    assert "pass@n" in table and "maj@n" in table


def test_traces_sampled_by_another_backend_batch_size_dtype_or_device_are_cached_apart(tmp_path):
    from rac_bench.backends import backend_identity
    from rac_bench.calibration.sources import BuildInputs
    from rac_bench.calibration.sources.traces import trace_cache_dir
    from rac_bench.config import CalibrationSettings, ExecutionSettings

    def path(backend: str, batch_size: int, dtype: str = "float32", device: str = "cpu"):
        execution = ExecutionSettings(backend=backend, batch_size=batch_size, dtype=dtype, device=device)
        identity = backend_identity(execution)
        inputs = BuildInputs(
            None, "weights", CalibrationSettings(prompts="rac_arith"), 0, None, tmp_path, None, None, None, identity
        )
        return trace_cache_dir(inputs)

    assert len({path("hf", 64), path("hf", 16), path("vllm", 64), path("hf", 64, "bfloat16")}) == 4
    assert path("hf", 64, device="cuda:0") != path("hf", 64) and path("hf", 64, device="cuda:1") == path(
        "hf", 64, device="cuda:0"
    )  # the device type, not which card
    assert path("hf", 64) == path("hf", 64)

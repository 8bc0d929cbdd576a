"""A run's output directory and its lm-eval exports: runs and variants never write over one another's files."""

from dataclasses import replace

from conftest import make_cell
from rac_bench.cells import CellIdentity
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

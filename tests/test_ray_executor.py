"""`--executor ray` on a local Ray cluster on this CPU: the same results as the local executor, written to the
same kind of store, and a variant job whose worker dies is retried and finishes."""

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import store_results

pytest.importorskip("ray")

RUN = ["run", "--methods", "magnitude,sparsegpt", "--sparsity", "0.5", "--limit", "60", "--threads", "1"]


def rac_bench(argv, environment):
    result = subprocess.run(
        [sys.executable, "-m", "rac_bench.cli", *argv], env=environment, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_ray_executor_matches_the_local_executor(tmp_path):
    environment = {**os.environ, "RAC_BENCH_CACHE": str(tmp_path / "cache")}
    rac_bench(RUN + ["--store", str(tmp_path / "local.sqlite"), "--output-dir", str(tmp_path / "l")], environment)
    environment["RAC_BENCH_CACHE"] = str(tmp_path / "cache-ray")
    ray_run = RUN + ["--executor", "ray", "--store", str(tmp_path / "ray.sqlite"), "--output-dir", str(tmp_path / "r")]
    rac_bench(ray_run, environment)
    local_cells, local_samples, _ = store_results(tmp_path / "local.sqlite")
    ray_cells, ray_samples, _ = store_results(tmp_path / "ray.sqlite")
    assert len(ray_cells) == 3
    assert ray_cells == local_cells and ray_samples == local_samples


# A method whose worker process dies the first time it prunes: what a preempted or crashed node looks like.
CRASHING_METHOD = """
import os
from pathlib import Path

from rac_bench.methods import LayerwiseMethod
from rac_bench.pruning.magnitude import magnitude_prune

MARKER = Path(os.environ["CRASH_ONCE_MARKER"])


def crash_once(weight, statistics, target):
    if not MARKER.exists():
        MARKER.write_text("crashed")
        os._exit(1)
    return magnitude_prune(weight, statistics, target)


METHOD = LayerwiseMethod("crash-once", "magnitude, after killing its worker once", crash_once, None)
"""


def test_a_variant_job_whose_worker_dies_is_retried(tmp_path):
    package = tmp_path / "crash_once"
    (package / "crash_once").mkdir(parents=True)
    (package / "crash_once" / "__init__.py").write_text(CRASHING_METHOD)
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "crash-once"
            version = "0"
            [project.entry-points."rac_bench.methods"]
            crash-once = "crash_once:METHOD"
            [tool.setuptools]
            packages = ["crash_once"]
            """
        )
    )
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site)]
        + [str(package)],
        check=True,
    )
    marker = tmp_path / "crashed"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "CRASH_ONCE_MARKER": str(marker),
        "RAC_BENCH_CACHE": str(tmp_path / "cache"),
    }
    argv = ["run", "--methods", "crash-once", "--limit", "30", "--threads", "1", "--executor", "ray"]
    rac_bench(argv + ["--store", str(tmp_path / "s.sqlite"), "--output-dir", str(tmp_path / "out")], environment)
    assert marker.read_text() == "crashed"  # the first attempt died
    cells, samples, _ = store_results(tmp_path / "s.sqlite")
    assert sorted(c["identity"]["method"] for c in cells.values()) == ["crash-once", "dense"]
    assert all(len(s) == 30 for s in samples.values())


def test_a_cluster_address_with_no_cluster_is_one_line(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, "-m", "rac_bench.cli", "run", "--executor", "ray", "--ray-address", "auto", "--dry-run"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    [line] = result.stderr.strip().splitlines()
    assert "cannot join the Ray cluster at 'auto'" in line

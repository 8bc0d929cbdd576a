"""A compression method from its own package (tests/example_method_package) registers through the
`rac_bench.methods` entry-point group and gets leaderboard rows with no change to rac-bench."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parent / "example_method_package"


def test_an_installed_plugin_method_is_run_and_ranked(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), str(PACKAGE)],
        check=True,
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "RAC_BENCH_STORE": str(tmp_path / "results.sqlite"),
    }

    def rac_bench(*argv):
        result = subprocess.run(
            [sys.executable, "-m", "rac_bench.cli", *argv], env=environment, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "random" in rac_bench("methods")
    rac_bench("run", "--methods", "random,magnitude", "--limit", "100", "--output-dir", str(tmp_path / "out"))
    rows = csv.DictReader(io.StringIO(rac_bench("leaderboard", "--format", "csv")))
    accuracy = {row["method"]: float(row["accuracy"]) for row in rows}
    assert set(accuracy) == {"dense", "random", "magnitude"}
    # ranked: a random mask is the floor that magnitude pruning beats
    assert accuracy["random"] < accuracy["magnitude"] < accuracy["dense"]
    assert (
        "random"
        not in subprocess.run([sys.executable, "-m", "rac_bench.cli", "methods"], capture_output=True, text=True).stdout
    )  # installed into the test's own directory only

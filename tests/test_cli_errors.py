"""Bad input: one line on stderr, exit code 2, no traceback, nothing written."""

import subprocess
import sys

import pytest

from rac_bench.cli import main

BAD_INPUTS = [
    (["run", "--methods", "nope"], "unknown method 'nope'"),
    (["run", "--sparsity", "1.0"], "outside [0, 1)"),
    (["run", "--sparsity", "-0.1"], "outside [0, 1)"),
    (["run", "--sparsity", "half"], "not a number"),
    (["run", "--pattern", "3:2"], "0 < N < M"),
    (["run", "--pattern", "a:b"], "not recognised"),
    (
        ["run", "--tasks", "nope"],
        "unknown task 'nope'; available: aime24, aime25, amc23, gpqa_diamond, math500, rac_arith",
    ),
    (["run", "--model", "./no/such/model"], "neither an existing directory nor a hub id"),
    (["run", "--limit", "0"], "evaluation.limit (--limit) must be a positive whole number, got '0'"),
    (["run", "--no-such-flag"], "unrecognized arguments"),
    (["run", "--samples", "4", "--pass-at-k", "1,8"], "pass@8 needs k <= samples per problem, but rac_arith draws 4"),
    (["run", "--pass-at-k", "2"], "pass@2 needs k <= samples per problem, but rac_arith draws 1"),
]


def run_cli(arguments, directory, capsys, monkeypatch):
    monkeypatch.chdir(directory)
    code = main(arguments)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, arguments, message):
    output = tmp_path / "out"
    code, stderr = run_cli([*arguments, "--output-dir", str(output)], tmp_path, capsys, monkeypatch)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert not output.exists()
    assert not (tmp_path / "rac-bench-runs").exists()


def test_model_directory_without_config_is_rejected(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    code, stderr = run_cli(["run", "--model", str(tmp_path / "empty")], tmp_path, capsys, monkeypatch)
    assert code == 2 and "has no config.json" in stderr


def test_config_file_with_unknown_key_is_rejected(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("methods: [sparsegpt]\nspasity: 0.5\n")
    code, stderr = run_cli(["run", "--config", str(config)], tmp_path, capsys, monkeypatch)
    assert code == 2 and "unknown config option(s) spasity" in stderr


@pytest.mark.parametrize(
    "line, message",
    [
        ("calibration_samples: 128", "calibration_samples is gone: every calibration source draws until it meets"),
        ("trace_temperature: 0.7", "trace_temperature now lives in a section: write `calibration: {traces: "),
        ("calibration_tokens: 4096", "calibration_tokens now lives in a section: write `calibration: {tokens: "),
    ],
)
def test_a_0_1_0_flat_config_key_says_where_it_went(tmp_path, capsys, monkeypatch, line, message):
    config = tmp_path / "c.yaml"
    config.write_text(f"methods: [sparsegpt]\n{line}\n")
    code, stderr = run_cli(["run", "--config", str(config)], tmp_path, capsys, monkeypatch)
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and message in stderr, stderr


def test_a_bad_estimate_option_fails_a_real_run_too(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("estimate: {peak_tflop: 900}\n")
    code, stderr = run_cli(["run", "--config", str(config)], tmp_path, capsys, monkeypatch)
    assert code == 2 and "unknown estimate option(s) peak_tflop" in stderr, stderr


def test_unknown_vllm_option_is_rejected_before_any_work(tmp_path, capsys, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("execution: {vllm: {tensor_parallel: 2}}\n")
    code, stderr = run_cli(
        ["run", "--config", str(config), "--output-dir", str(tmp_path / "out")], tmp_path, capsys, monkeypatch
    )
    assert code == 2 and "keys among tensor_parallel_size" in stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_directory_is_rejected(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, stderr = run_cli(["run", "--output-dir", str(blocker / "sub")], tmp_path, capsys, monkeypatch)
    assert code == 2 and "cannot write to output directory" in stderr


def test_the_installed_command_prints_no_traceback(tmp_path):
    """Once through a real process: the console entry point, stderr and the exit code as a shell sees them."""
    result = subprocess.run(
        [sys.executable, "-m", "rac_bench.cli", "run", "--sparsity", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "rac-bench: error: sparsity 2 is outside [0, 1); accepted: a fraction such as 0.5"


@pytest.mark.parametrize(
    "script, code, stdout",
    [
        ("from rac_bench.cli import entry\nentry()", 0, "usage: rac-bench"),  # --help exits through SystemExit(0)
        ("import sys\nfrom rac_bench.process import run_without_teardown\nrun_without_teardown(lambda: 3)", 3, ""),
        (  # exit handlers registered while the command ran still run, and buffered output is not lost
            "import atexit, sys\nfrom rac_bench.process import run_without_teardown\n"
            "def main():\n    atexit.register(lambda: print('handler ran'))\n    sys.stdout.write('unflushed')\n"
            "    return 0\nrun_without_teardown(main)",
            0,
            "unflushedhandler ran",
        ),
    ],
)
def test_the_process_skips_teardown_but_keeps_its_exit_code_output_and_handlers(script, code, stdout, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", script, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == code and result.stdout.strip().startswith(stdout), result


def test_devices_and_dtypes_that_do_not_exist_here_are_one_line_errors(capsys):
    from rac_bench.cli import main

    for argv, message in (
        (["run", "--device", "cuda:7"], "device 'cuda:7' is not available here; accepted: auto, cpu, cuda, cuda:N"),
        (["run", "--device", "tpu"], "unknown device 'tpu'"),
        (["prune", "--method", "rac", "--dtype", "int8", "--out", "x"], "unknown execution.dtype (--dtype) 'int8'"),
    ):
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and message in error, error


HEAVY_MODULES = ("torch", "transformers", "lm_eval", "datasets", "vllm")


@pytest.mark.parametrize(
    "arguments",
    [["run", "--sparsity", "1.5"], ["run", "--methods", "nope"], ["run", "--pattern", "3:5", "--methods", "sparsegpt"]],
)
def test_bad_flags_are_answered_before_any_heavy_import(tmp_path, arguments):
    """Issue 32: flags and config are checked before torch, transformers, lm-eval, datasets or vLLM load (their
    imports take seconds), so a bad input is answered at once. Checked in a fresh interpreter."""
    script = (
        "import sys\nfrom rac_bench.cli import main\n"
        f"code = main({[*arguments, '--output-dir', str(tmp_path / 'out')]!r})\n"
        f"print(code, sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.stdout.split("\n")[0] == "2 []", (result.stdout, result.stderr)
    assert not (tmp_path / "out").exists()


def test_a_run_loads_transformers_model_classes_without_scikit_learn(tmp_path):
    """transformers imports scikit-learn (lm-eval installs it) for assisted generation alone; the heavy commands
    skip it (rac_bench.process). A dry run takes the run's heavy path to its plan, in a fresh interpreter."""
    script = (
        "import sys\nfrom rac_bench.cli import main\n"
        f"code = main(['run', '--methods', 'rac', '--dry-run', '--output-dir', {str(tmp_path / 'out')!r}])\n"
        "from transformers import AutoModelForCausalLM\nimport transformers.generation.candidate_generator\n"
        "print(code, 'sklearn' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.stdout.split("\n")[-2] == "0 False", (result.stdout[-2000:], result.stderr[-2000:])

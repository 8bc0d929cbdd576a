"""The task YAMLs also run under plain lm-eval, on any saved checkpoint, so users keep their habits."""

import json
import subprocess
import sys

from rac_bench.models import EMBEDDED_MODEL_DIR
from rac_bench.tasks import TASKS_DIR


def test_plain_lm_eval_runs_the_embedded_task_on_a_checkpoint(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lm_eval",
            "run",
            "--include_path",
            str(TASKS_DIR),
            "--tasks",
            "rac_arith",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={EMBEDDED_MODEL_DIR},dtype=float32",
            "--apply_chat_template",
            "--limit",
            "30",
            "--batch_size",
            "16",
            "--output_path",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [results_file] = list(tmp_path.rglob("results_*.json"))
    accuracy = json.loads(results_file.read_text())["results"]["rac_arith"]["accuracy,none"]
    assert accuracy >= 0.8

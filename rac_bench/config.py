"""The typed run configuration (read by `config_loader`: defaults, a YAML file, then command-line flags).

The config has a few top-level keys (what is measured: model, methods, sparsity, pattern, tasks, seed) and
sections that validate themselves: `calibration` (how calibration sets are built), `pruning`, `evaluation` and
`execution` (where and how the work runs). Flags are flat (`--calibration-tokens`) and each sets one field of a
section (`calibration.tokens`); a field names its flag. Every user-facing mistake becomes a ConfigError that
names the bad value and what is accepted.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from rac_bench import config_fields as parse
from rac_bench.backends.vllm import ENGINE_OPTIONS
from rac_bench.calibration.corpus import DEFAULT_CORPUS
from rac_bench.config_fields import option, optional, section_flags, subsection
from rac_bench.errors import ConfigError
from rac_bench.pruning.expert_routing import DEFAULT_MIN_TOKENS, EXPERT_ROUTING
from rac_bench.pruning.target import SparsityTarget, parse_pattern, parse_sparsity
from rac_bench.scoring.self_corrections import DEFAULT_HESITATION_MARKERS
from rac_bench.zoo import answers_embedded_task

DTYPES = ("float32", "bfloat16", "float16")
# (tasks, calibration prompt set) when a config names none: the embedded task for the embedded model; for any other
# model, MATH-500 calibrated on OpenR1-Math problems (as the recipes do)
EMBEDDED_DEFAULTS = (("rac_arith",), "rac_arith")
REAL_MODEL_DEFAULTS = (("math500",), "openr1_math")


# Tokens every calibration source gives when a config names no budget: enough for the embedded model (its widest
# layer input is 256) and a fast default run. Real models want far more: the RAC authors' code uses 1,000,000.
DEFAULT_CALIBRATION_TOKENS = 16_384


def default_output_dir() -> Path:
    """rac-bench-runs/<time>-<random>: runs started in the same second, here or on another machine sharing the
    directory, never write into one directory."""
    return Path("rac-bench-runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def default_cache_dir() -> Path:
    return Path(os.environ.get("RAC_BENCH_CACHE", Path.home() / ".cache" / "rac-bench"))


def _sparsities(name: str, value) -> list[float]:
    return [parse_sparsity(item) for item in parse.text_list(name, value)]


def _models(name: str, value) -> list[str | None]:
    return [None] if value is None else parse.text_list(name, value)


def _vllm_options(name: str, value) -> dict:
    options = parse.mapping(name, value)
    if set(options) - set(ENGINE_OPTIONS):
        raise ConfigError(f"vllm options must be a mapping with keys among {', '.join(ENGINE_OPTIONS)}; got {value!r}")
    return options


def _device(name: str, value) -> str:
    device = parse.text(name, value)
    index = device.partition(":")[2]
    if device not in ("auto", "cpu") and not (device.startswith("cuda") and (not index or index.isdigit())):
        raise ConfigError(f"unknown device {device!r}; accepted: auto, cpu, cuda, cuda:N")
    return device


@dataclass
class TraceSettings:
    """How RAC's on-policy traces are sampled from the dense model (config `calibration.traces`)."""

    temperature: float = option(0.6, parse.non_negative_number)
    top_p: float = option(0.95, parse.probability)
    top_k: int | None = option(None, optional(parse.positive_int))  # None: no top-k filter
    # the embedded task's token limit: room for any dense chain, not for endless loops
    max_new_tokens: int = option(256, parse.positive_int)
    per_prompt: int = option(1, parse.positive_int)  # traces sampled per prompt


@dataclass
class CalibrationSettings:
    """How every calibration source builds its sequences (see rac_bench.calibration): the same token budget for
    each, and how prompts are rendered. `preset` names a published recipe whose values fill the ones not given."""

    tokens: int = option(DEFAULT_CALIBRATION_TOKENS, parse.positive_int, "calibration_tokens")  # budget per source
    preset: str | None = option(None, optional(parse.text), "calibration_preset")  # rac_bench.calibration.presets
    # the prompt set; None: the model's default (RunConfig.resolve_model_defaults)
    prompts: str | None = option(None, optional(parse.text), "calibration_prompts")
    seed: int | None = option(None, optional(parse.seed), "calibration_seed")  # None: the run's seed
    instruction: bool = option(True, parse.boolean)  # append the evaluation tasks' instruction to each question
    system_prompt: str | None = option(None, optional(parse.text))
    chat_template: Path | None = option(None, optional(parse.path))  # a Jinja file replacing the model's template
    prompt_max_tokens: int | None = option(None, optional(parse.positive_int))  # keep a prompt's last N tokens
    cot_weight: float | None = option(None, optional(parse.non_negative_number), "cot_weight")
    text: str = option(DEFAULT_CORPUS, parse.text, "calibration_text")  # a .txt/.jsonl file or hub dataset id
    text_length: int = option(2048, parse.positive_int)  # tokens per window
    text_chat_template: bool = option(False, parse.boolean)  # render each document as a user turn first
    traces: TraceSettings = subsection(TraceSettings)

    def __post_init__(self):
        from rac_bench.calibration.prompt_sets import get_prompt_set

        if self.prompts is not None:
            get_prompt_set(self.prompts)  # an unknown name is one line
        if self.chat_template is not None and not self.chat_template.is_file():
            raise ConfigError(
                f"calibration.chat_template {self.chat_template} is not a file; give a Jinja template file"
            )


@dataclass
class PruningSettings:
    ignore: str | None = option(None, optional(parse.regex), "ignore")  # linear layers (by name) left dense
    lm_head: bool = option(False, parse.boolean)  # also prune the output head (the RAC authors' code does)
    # sequential: each layer calibrated on the pruned layers' outputs before it; dense: on the dense model's
    # activations (the RAC authors' grouped mode, rac_bench.pruning.engine)
    hessians: str = option("sequential", parse.choice("sequential", "dense"))
    # experts' statistics (rac_bench.pruning.experts): the tokens routed to each, or every token (statistics only);
    # an expert routed fewer than expert_min_tokens tokens takes every token
    experts: str = option("routed", parse.choice(*EXPERT_ROUTING))
    expert_min_tokens: int = option(DEFAULT_MIN_TOKENS, parse.non_negative_int)


@dataclass
class EvaluationSettings:
    limit: int | None = option(None, optional(parse.positive_int), "limit")  # the first N problems of a task
    samples: int | None = option(None, optional(parse.positive_int), "samples")  # None: the task's
    pass_at_k: list[int] | None = option(None, optional(parse.positive_int_list), "pass_at_k")
    max_new_tokens: int | None = option(None, optional(parse.positive_int), "max_new_tokens")  # None: the task's
    # responses of dense whose next-token distributions pruned models are compared on (rac_bench.drift)
    drift_responses: int = option(256, parse.non_negative_int)
    hesitation_markers: list[str] = option(list(DEFAULT_HESITATION_MARKERS), parse.text_list)


@dataclass
class ExecutionSettings:
    """Where and how the work runs; none of it changes what is measured, except as cell settings record."""

    backend: str = option("auto", parse.choice("auto", "hf", "vllm"), "backend")
    vllm: dict = option({}, _vllm_options, "vllm")  # engine options
    batch_size: int = option(64, parse.positive_int, "batch_size")
    # greedy requests (whose tokens no sampling seed decides) run in batches this large: a whole small task at once
    greedy_batch_size: int = option(1024, parse.positive_int, "greedy_batch_size")
    threads: int | None = option(None, optional(parse.positive_int), "threads")  # None: rac_bench.threads decides
    device: str = option("auto", _device, "device")  # where pruning and HF generation run
    dtype: str = option("auto", parse.choice("auto", *DTYPES), "dtype")  # auto: bfloat16 on a GPU, else float32
    cache_dir: Path = field(default_factory=default_cache_dir, metadata={"parse": parse.path, "flag": "cache_dir"})
    store: Path | None = option(None, optional(parse.path), "store")  # None: $RAC_BENCH_STORE or the default
    resume: bool = option(True, parse.boolean, "resume")  # False: evaluate every cell again
    rebuild: bool = option(False, parse.boolean, "rebuild")  # prune every variant and sample its traces again
    executor: str = option("local", parse.choice("local", "ray"), "executor")
    ray_address: str | None = option(None, optional(parse.text), "ray_address")
    max_retries: int = option(2, parse.non_negative_int)
    gpus_per_cell: float | None = option(None, optional(parse.non_negative_number))

    def gpus_per_variant(self) -> float:
        """GPUs one variant job holds: the configured number, else vLLM's tensor x data parallel size (unless
        vLLM targets the CPU), else one when pruning and HF generation use a GPU."""
        if self.gpus_per_cell is not None:
            return self.gpus_per_cell
        if self.backend == "vllm" and os.environ.get("VLLM_TARGET_DEVICE") != "cpu":
            return float(self.vllm.get("tensor_parallel_size", 1) * self.vllm.get("data_parallel_size", 1))
        return 1.0 if self.device.startswith("cuda") else 0.0

    def placed(self, gpus_available: bool, check_index: bool = True) -> ExecutionSettings:
        """Device and dtype resolved: 'auto' becomes a CUDA GPU when the machine (or cluster) has one."""
        device = self.device
        if device == "auto":
            device = "cuda" if gpus_available else "cpu"
        elif device.startswith("cuda") and check_index:
            import torch

            index = int(device.partition(":")[2] or 0)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise ConfigError(f"device {device!r} is not available here; accepted: auto, cpu, cuda, cuda:N")
        dtype = self.dtype if self.dtype != "auto" else ("float32" if device == "cpu" else "bfloat16")
        return replace(self, device=device, dtype=dtype)


@dataclass
class RunConfig:
    model: list[str | None] = option([None], _models, "model")  # None: the embedded tiny reasoner
    methods: list[str] = option(["sparsegpt", "rac"], parse.text_list, "methods")  # METHOD[@SOURCE]
    sparsity: list[float] = option([0.5], _sparsities, "sparsity")
    pattern: list[str] = option(["unstructured"], parse.text_list, "pattern")
    tasks: list[str] | None = option(None, optional(parse.text_list), "tasks")  # None: the model's default
    seed: int = option(0, parse.seed, "seed")
    data_dir: Path | None = option(None, optional(parse.path), "data_dir")  # local task data instead of the hub
    output_dir: Path | None = option(None, optional(parse.path), "output_dir")  # None: rac-bench-runs/<time>-<random>
    calibration: CalibrationSettings = subsection(CalibrationSettings)
    pruning: PruningSettings = subsection(PruningSettings)
    evaluation: EvaluationSettings = subsection(EvaluationSettings)
    execution: ExecutionSettings = subsection(ExecutionSettings)
    estimate: dict = option({}, parse.mapping)  # --dry-run cost assumptions (rac_bench.estimate.Assumptions)

    def __post_init__(self):
        """Tasks and calibration prompts the config leaves out come from the models: the embedded task belongs to
        the embedded model and to smollm2-reasoner (trained on it); any other model gets REAL_MODEL_DEFAULTS."""
        if self.tasks is not None and self.calibration.prompts is not None:
            return
        embedded = {answers_embedded_task(model) for model in self.model}
        if embedded == {True, False}:
            raise ConfigError(
                "the embedded model and other models in one run share no default task; give --tasks and "
                "--calibration-prompts (e.g. --tasks math500 --calibration-prompts openr1_math)"
            )
        tasks, prompts = EMBEDDED_DEFAULTS if embedded == {True} else REAL_MODEL_DEFAULTS
        if self.tasks is None:
            self.tasks = list(tasks)
        if self.calibration.prompts is None:
            self.calibration.prompts = prompts

    @property
    def calibration_seed(self) -> int:
        return self.calibration.seed if self.calibration.seed is not None else self.seed

    @property
    def targets(self) -> list[SparsityTarget]:
        targets = []
        for pattern in self.pattern:
            for sparsity in self.sparsity if pattern == "unstructured" else [0.0]:
                target = parse_pattern(pattern, sparsity)
                if target not in targets:
                    targets.append(target)
        return targets

    @property
    def all_methods(self) -> list[str]:
        """The requested methods, with the dense reference first."""
        return ["dense"] + [m for m in self.methods if m != "dense"]


FLAGS = section_flags(RunConfig)  # argparse dest -> path of the field it sets
# rac-bench 0.1.0's flat keys that no flag sets
MOVED_KEYS = {
    "calibration_text_length": ("calibration", "text_length"),
    "trace_temperature": ("calibration", "traces", "temperature"),
    "trace_top_p": ("calibration", "traces", "top_p"),
    "trace_max_new_tokens": ("calibration", "traces", "max_new_tokens"),
    "max_retries": ("execution", "max_retries"),
    "gpus_per_cell": ("execution", "gpus_per_cell"),
}
# rac-bench 0.1.0's counts of calibration sequences: sources now draw sequences until they meet a token budget
COUNT_KEYS = ("calibration_samples", "calibration_text_windows")

"""The typed run configuration: defaults, a YAML file, then command-line flags, validated before any work.

Every user-facing mistake becomes a ConfigError that names the bad value and what is accepted.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import yaml

from rac_bench.errors import ConfigError
from rac_bench.pruning.pattern import SparsityTarget, parse_pattern, parse_sparsity


EXECUTORS = ("local", "ray")
DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str, here: bool = True) -> str:
    """On this machine (`here`), 'auto' becomes 'cuda' when a CUDA GPU is present, else 'cpu', and a CUDA device
    that is absent is an error; otherwise (a Ray cluster) only the spelling is checked."""
    import torch

    device = str(device)
    index = device.partition(":")[2]
    if device not in ("auto", "cpu") and not (device.startswith("cuda") and (not index or index.isdigit())):
        raise ConfigError(f"unknown device {device!r}; accepted: auto, cpu, cuda, cuda:N")
    if not here:
        return device
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and (not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {device!r} is not available here; accepted: auto, cpu, cuda, cuda:N")
    return device


def resolve_dtype(device: str) -> str:
    return "float32" if device == "cpu" else "bfloat16"


def default_output_dir() -> Path:
    return Path("rac-bench-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def default_cache_dir() -> Path:
    return Path(os.environ.get("RAC_BENCH_CACHE", Path.home() / ".cache" / "rac-bench"))


@dataclass
class RunConfig:
    model: str | list | None = None  # None: the embedded tiny reasoning model; a list sweeps several models
    methods: list[str] = field(default_factory=lambda: ["sparsegpt", "rac"])
    sparsity: list[float] = field(default_factory=lambda: [0.5])
    pattern: list[str] = field(default_factory=lambda: ["unstructured"])
    tasks: list[str] = field(default_factory=lambda: ["rac_arith"])
    data_dir: Path | None = None  # local copies of the task data instead of the hub (see rac_bench.task_data)
    output_dir: Path | None = None  # None: rac-bench-runs/<timestamp>
    backend: str = "auto"  # hf | vllm | auto (vLLM on a CUDA machine where it is installed, else hf)
    vllm: dict = field(default_factory=dict)  # engine options: tensor_parallel_size, max_model_len, dtype, ...
    limit: int | None = None  # evaluate only the first N problems of each task
    samples: int | None = None  # samples per problem; None: the task's default
    pass_at_k: list[int] | None = None  # None: 1, 2, 4, ... up to the samples per problem
    max_new_tokens: int | None = None  # None: the task's default
    seed: int = 0
    calibration_prompts: str = "rac_arith"  # rac_arith or openr1_math (rac_bench.calibration.prompt_sets)
    calibration_samples: int = 128
    calibration_tokens: int | None = None  # cap on the calibration tokens of every source (paper: 1,000,000)
    calibration_text: str = "allenai/c4"  # the `text` source: a local .txt/.jsonl file or a hub dataset id
    calibration_text_windows: int = 128
    calibration_text_length: int = 2048
    cot_weight: float | None = None  # Hessian weight of generated (chain-of-thought) tokens; None: plain average
    trace_temperature: float = 0.6
    trace_top_p: float = 0.95
    trace_max_new_tokens: int = 256  # the embedded task's token limit: room for any dense chain, not endless loops
    ignore: str | None = None  # regex of linear-layer names (inside a decoder layer) left dense
    batch_size: int = 64
    threads: int | None = None  # None: one per core
    device: str = "auto"  # where pruning and HF generation run: auto (a CUDA GPU when there is one), cpu, cuda[:N]
    dtype: str = (
        "auto"  # weights of the model under test: auto (bfloat16 on a GPU, float32 on the CPU), or one of those
    )
    cache_dir: Path = field(default_factory=default_cache_dir)
    store: Path | None = None  # the SQLite results store; None: $RAC_BENCH_STORE or rac-bench-runs/results.sqlite
    resume: bool = True  # reuse finished cells and generations found in the store for the same fingerprints
    executor: str = "local"  # local (this process) or ray (one task per model variant; see rac_bench.executors)
    ray_address: str | None = None  # None: start a local Ray instance; "auto" or ray://host:port: join a cluster
    max_retries: int = 2  # Ray retries of a failed variant job (it resumes from the store)
    gpus_per_cell: float | None = None  # GPUs per variant job; None: vLLM's tensor x data parallel size on CUDA
    estimate: dict = field(default_factory=dict)  # --dry-run cost assumptions (rac_bench.estimate.Assumptions)

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
    def models(self) -> list[str | None]:
        """The models a run sweeps over (None: the embedded one)."""
        return self.model if isinstance(self.model, list) else [self.model]

    def for_model(self, model: str | None) -> "RunConfig":
        return replace(self, model=model)

    @property
    def all_methods(self) -> list[str]:
        """The requested methods, with the dense reference first."""
        return ["dense"] + [m for m in self.methods if m != "dense"]


def _split(value) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _positive_int(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return number


def _non_negative_float(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number < float("inf"):
        raise ConfigError(f"{name} must be a non-negative number, e.g. 0.5, got {value!r}")
    return number


def check_writable(directory: Path) -> None:
    """The directory, or the nearest ancestor that exists, must be a writable directory; nothing is created."""
    from rac_bench.files import unwritable_ancestor

    blocked = unwritable_ancestor(directory)
    if blocked is not None:
        raise ConfigError(f"cannot write to output directory {directory}: {blocked} is not a writable directory")


def build_config(config_file: Path | None = None, **overrides) -> RunConfig:
    """Defaults <- YAML file <- overrides (None means 'not given'), then validation."""
    values: dict = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"cannot read config file {config_file}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {config_file} is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must be a mapping of option: value")
        values.update(loaded)
    for key, value in overrides.items():
        if value is None:
            continue
        # a mapping given on the command line (e.g. --vllm options) updates the file's, key by key
        both_mappings = isinstance(value, dict) and isinstance(values.get(key), dict)
        values[key] = {**values[key], **value} if both_mappings else value
    accepted = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise ConfigError(f"unknown config option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}")
    return validate(RunConfig(**values))


def validate(config: RunConfig) -> RunConfig:
    from rac_bench.backends import resolve_backend
    from rac_bench.backends.vllm import ENGINE_OPTIONS
    from rac_bench.calibration.prompt_sets import check_prompt_set
    from rac_bench.calibration.text import check_corpus_reference
    from rac_bench.methods.spec import parse_method_spec
    from rac_bench.tasks import get_task

    config.methods = _split(config.methods)
    if not config.methods:
        raise ConfigError("no methods given; e.g. --methods sparsegpt,rac")
    for spec in config.methods:
        parse_method_spec(spec)
    config.sparsity = [parse_sparsity(s) for s in _split(config.sparsity)]
    config.pattern = _split(config.pattern)
    config.targets  # parses every pattern
    config.tasks = _split(config.tasks)
    for name in config.tasks:
        get_task(name)
    check_prompt_set(config.calibration_prompts)
    if config.data_dir is not None:
        config.data_dir = Path(config.data_dir)
        if not config.data_dir.is_dir():
            raise ConfigError(f"data directory {config.data_dir} does not exist; give a directory with the task files")
    config.backend = resolve_backend(config.backend)
    if not isinstance(config.vllm, dict) or set(config.vllm) - set(ENGINE_OPTIONS):
        raise ConfigError(
            f"vllm options must be a mapping with keys among {', '.join(ENGINE_OPTIONS)}; got {config.vllm!r}"
        )
    if config.pass_at_k is not None:
        config.pass_at_k = [_positive_int("pass-at-k", k) for k in _split(config.pass_at_k)]
    for name in ("limit", "samples", "max_new_tokens", "threads", "calibration_tokens"):
        if getattr(config, name) is not None:
            setattr(config, name, _positive_int(name.replace("_", "-"), getattr(config, name)))
    for name in (
        "calibration_samples",
        "trace_max_new_tokens",
        "batch_size",
        "calibration_text_windows",
        "calibration_text_length",
    ):
        setattr(config, name, _positive_int(name.replace("_", "-"), getattr(config, name)))
    if config.cot_weight is not None:
        config.cot_weight = _non_negative_float("cot-weight", config.cot_weight)
    if any(parse_method_spec(spec).source == "text" for spec in config.methods):
        check_corpus_reference(str(config.calibration_text))
    for task_name in config.tasks:
        samples = config.samples or get_task(task_name).samples
        too_large = [k for k in config.pass_at_k or [] if k > samples]
        if too_large:
            raise ConfigError(
                f"pass@{too_large[0]} needs k <= samples per problem, but {task_name} draws {samples}; "
                "lower --pass-at-k or raise --samples"
            )
    if config.model is not None:
        from rac_bench.models import check_model_reference

        models = _split(config.model)
        if not models:
            raise ConfigError("model is empty; give a model directory or hub id, or leave it out for the embedded one")
        for model in models:
            check_model_reference(model)
        config.model = models[0] if len(models) == 1 else models
    config.output_dir = Path(config.output_dir) if config.output_dir else default_output_dir()
    check_writable(config.output_dir)
    config.cache_dir = Path(config.cache_dir)
    if config.store is not None:
        config.store = Path(config.store)
    if config.executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {config.executor!r}; accepted: {', '.join(EXECUTORS)}")
    if config.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(
                "executor 'ray' needs Ray: pip install 'rac-bench[ray]'; or use --executor local"
            ) from None
    if not isinstance(config.max_retries, int) or config.max_retries < 0:
        raise ConfigError(f"max-retries must be a whole number >= 0, got {config.max_retries!r}")
    if config.gpus_per_cell is not None:
        try:
            config.gpus_per_cell = float(config.gpus_per_cell)
        except (TypeError, ValueError):
            config.gpus_per_cell = -1.0
        if config.gpus_per_cell < 0:
            raise ConfigError("gpus-per-cell must be a number >= 0")
    # on Ray the cluster, not this machine, decides: executors.run_on_ray resolves auto from its GPUs
    config.device, config.dtype = resolve_device(config.device, here=config.executor != "ray"), str(config.dtype)
    if config.dtype == "auto" and config.device != "auto":
        config.dtype = resolve_dtype(config.device)
    if config.dtype not in (*DTYPES, "auto"):
        raise ConfigError(f"unknown dtype {config.dtype!r}; accepted: auto, {', '.join(DTYPES)}")
    if config.ignore is not None:
        try:
            re.compile(config.ignore)
        except re.error as error:
            raise ConfigError(f"--ignore {config.ignore!r} is not a regular expression ({error})") from None
    config.trace_temperature = _non_negative_float("trace-temperature", config.trace_temperature)
    config.trace_top_p = _non_negative_float("trace-top-p", config.trace_top_p)
    if not 0.0 < config.trace_top_p <= 1.0:
        raise ConfigError(f"trace-top-p must be in (0, 1], got {config.trace_top_p}")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {config.seed!r}")
    if not isinstance(config.estimate, dict):
        raise ConfigError(f"estimate must be a mapping of assumption: value, got {config.estimate!r}")
    if not isinstance(config.resume, bool):
        raise ConfigError(f"resume must be true or false, got {config.resume!r}")
    return config

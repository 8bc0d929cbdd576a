"""The Cell: one model variant measured on one task. Its identity (model, method, pattern, sparsity, task), the
settings it was measured with, where its model came from, and its results. The store keeps cells, and the
leaderboard, exports, gate and CLI read their typed fields.

A cell is stored as JSON with a format number; a cell of an older format is migrated when read, one of an unknown
format is refused, never guessed at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rac_bench import catalogue
from rac_bench.metrics import Estimate

CELL_FORMAT = 3  # 2: up to 76e5c2b, read through _from_format_2


@dataclass(frozen=True)
class Drift:
    """Drift from dense (rac_bench.drift): teacher-forced KL and top-1 agreement on dense's own responses."""

    kl: Estimate  # KL(dense || pruned) in nats per token, with a bootstrap interval over problems
    kl_p95: float  # the 95th percentile over tokens
    top1_agreement: Estimate  # share of tokens where both models' most likely next token is the same
    tokens: int
    responses: int
    problems: int = 0

    @classmethod
    def from_dict(cls, record: dict) -> Drift:
        return cls(**{**record, "kl": Estimate(**record["kl"]), "top1_agreement": Estimate(**record["top1_agreement"])})


@dataclass(frozen=True)
class CellIdentity:
    """What a reader compares across runs; the leaderboard keeps the latest cell of each identity."""

    model: str
    task: str
    method: str  # the method spec as written, e.g. sparsegpt@text
    pattern: str  # unstructured or N:M
    sparsity: float

    @property
    def is_dense(self) -> bool:
        return self.method == "dense"

    @property
    def is_outside(self) -> bool:
        """A checkpoint saved by another tool (`checkpoint:DIR`): it claims no sparsity target."""
        return self.pattern == "checkpoint"

    @property
    def target_label(self) -> str:
        """'-' for dense, outside checkpoints and quantizers that prune nothing; the N:M pattern, or the sparsity."""
        if self.is_dense or self.is_outside or (self.pattern == "unstructured" and self.sparsity == 0):
            return "-"
        return self.pattern if self.pattern != "unstructured" else f"{self.sparsity:g}"

    @property
    def variant_label(self) -> str:
        """e.g. 'dense', 'rac-0.5', 'sparsegpt-2:4', 'gptq:w4'."""
        return self.method if self.target_label == "-" else f"{self.method}-{self.target_label}"

    def describe(self) -> str:
        target = "" if self.target_label == "-" else f" {self.target_label}"
        return f"{self.method}{target} on {self.task} ({self.model})"

    def sort_key(self) -> tuple:
        """Model, task, then dense first, then by pattern, sparsity and method."""
        return (self.model, self.task, not self.is_dense, self.pattern, self.sparsity, self.method)


@dataclass(frozen=True)
class CellSelector:
    """Which cells a command takes (gate, delete, leaderboard): by model, task and method; None takes all."""

    models: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return any(part is not None for part in (self.models, self.tasks, self.methods))

    def matches(self, identity: CellIdentity) -> bool:
        return all(
            chosen is None or value in chosen
            for chosen, value in (
                (self.models, identity.model),
                (self.tasks, identity.task),
                (self.methods, identity.method),
            )
        )


class CellResults(dict):
    """A cell's results by name (accuracy, pass_at_k, thinking_tokens, latency_seconds, lm_eval, ... and the
    metrics measured against dense), each metric decoded through the catalogue (rac_bench.catalogue);
    `results.accuracy` reads `results["accuracy"]`."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def samples_per_problem(self) -> int:
        return self["samples"] // self["problems"] if self["problems"] else 0

    @classmethod
    def from_dict(cls, record: dict) -> CellResults:
        return cls(catalogue.decode_results(record))


@dataclass(frozen=True)
class Cell:
    key: str
    run_id: str
    identity: CellIdentity
    model_fingerprint: str
    variant_fingerprint: str
    settings: dict  # how it was measured (the plan's cell settings)
    backend: str
    engine_startup_seconds: float
    checkpoint: str | None  # the pruned checkpoint directory; None for dense
    pruning: dict | None  # the pruning report; None for dense
    prune_seconds: float
    calibration_seconds: float  # building the calibration set (not part of prune_seconds)
    provenance: dict
    results: CellResults
    drift: Drift | None = None  # KL from dense and top-1 agreement, teacher-forced on dense's responses
    # zeros over the prunable weights and over the decoder layers, counted in the weights evaluated
    achieved_sparsity: dict | None = None
    # how the weights ran: {"mode": "dense"}, "simulated" (compression stored in dense weights), "smaller"
    # (structured: weights removed) or "packed" (with the kernel vLLM chose); None in cells stored before it was
    # recorded
    execution: dict | None = None
    # seconds_per_problem, seconds_per_correct, decode_speedup, weight_bytes, load_average (rac_bench.cost)
    cost: dict | None = None
    format: int = field(default=CELL_FORMAT)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> Cell:
        if record.get("format") == 2:
            record = _from_format_2(record)
        if record.get("format") != CELL_FORMAT:
            raise ValueError(f"cell format {record.get('format')!r}, expected {CELL_FORMAT} (or 2)")
        values = dict(record)
        values["identity"] = CellIdentity(**record["identity"])
        values["results"] = CellResults.from_dict(record["results"])
        values["drift"] = Drift.from_dict(record["drift"]) if record.get("drift") else None
        return cls(**values)


def _from_format_2(record: dict) -> dict:
    """Format 2 (rac-bench up to 76e5c2b) kept the metrics measured against dense beside the results, as fields
    of the cell: they move into the results, where the catalogue decodes every metric."""
    beside = [key for key in catalogue.stored_keys() if key in record and key not in record["results"]]
    results = {**record["results"], **{key: record[key] for key in beside}}
    return {**{k: v for k, v in record.items() if k not in beside}, "results": results, "format": CELL_FORMAT}


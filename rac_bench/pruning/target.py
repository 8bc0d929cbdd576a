"""What a compression target is, parsed from flags and specs without torch (so that a bad flag is answered before
any heavy import): a sparsity (unstructured or N:M, rac_bench.pruning.pattern makes its masks) with an optional
weight quantization (rac_bench.pruning.quantization holds its grids and solver)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rac_bench.errors import ConfigError

BITS = range(2, 9)
BLOCK_SIZE = 128  # columns per OBS block (SparseGPT, GPTQ: rac_bench.pruning.obs)
OPTIONS = re.compile(r"w(?P<bits>\d+)(?:g(?P<group>\d+))?(?P<asym>asym)?(?P<act>act)?")
SYNTAX = "w<bits>[g<group size>][asym][act], e.g. w4g128 or w3asym"


@dataclass(frozen=True)
class QuantizationTarget:
    bits: int
    group_size: int | None = None  # None: one scale and zero point per output row
    symmetric: bool = True
    act_order: bool = False

    @property
    def label(self) -> str:
        group = f"g{self.group_size}" if self.group_size else ""
        return f"w{self.bits}{group}{'' if self.symmetric else 'asym'}{'act' if self.act_order else ''}"

    @property
    def levels(self) -> int:
        return 2**self.bits

    def group_of(self, columns: int) -> int:
        return self.group_size or columns


def parse_quantization(text: str, method: str) -> QuantizationTarget:
    match = OPTIONS.fullmatch(text)
    if not match:
        raise ConfigError(f"{method}:{text}: quantization options are {SYNTAX}")
    bits = int(match["bits"])
    if bits not in BITS:
        raise ConfigError(f"{method}:{text}: {bits} bits is outside 2 to 8; give w2 to w8")
    group = int(match["group"]) if match["group"] else None
    if group is not None and group < 1:
        raise ConfigError(f"{method}:{text}: a group needs at least one input; give g32, g64, g128, ...")
    return QuantizationTarget(bits, group, match["asym"] is None, match["act"] is not None)


@dataclass(frozen=True)
class SparsityTarget:
    """`sparsity` for unstructured pruning; for N:M, `n` of every `m` consecutive weights in a row are zeroed;
    `quantization`: the grid the kept weights are rounded to (None: not quantized)."""

    sparsity: float
    n: int = 0
    m: int = 0
    quantization: QuantizationTarget | None = None

    @property
    def is_n_m(self) -> bool:
        return self.m > 0

    @property
    def pattern(self) -> str:
        return f"{self.n}:{self.m}" if self.is_n_m else "unstructured"

    @property
    def label(self) -> str:
        sparsity = self.pattern if self.is_n_m else f"{self.sparsity:g}"
        if self.quantization is None:
            return sparsity
        return self.quantization.label if not self.sparsity else f"{sparsity}+{self.quantization.label}"


def parse_sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"sparsity {text!r} is not a number; accepted: a fraction in [0, 1), e.g. 0.5") from None
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"sparsity {value:g} is outside [0, 1); accepted: a fraction such as 0.5")
    return value


def parse_pattern(text: str, sparsity: float) -> SparsityTarget:
    """'unstructured' keeps `sparsity`; 'N:M' (N < M) fixes the sparsity at N/M."""
    if text == "unstructured":
        return SparsityTarget(sparsity)
    match = re.fullmatch(r"(\d+):(\d+)", text)
    if not match:
        raise ConfigError(f"pattern {text!r} is not recognised; accepted: 'unstructured' or 'N:M' with N < M, e.g. 2:4")
    n, m = int(match[1]), int(match[2])
    if not 0 < n < m:
        raise ConfigError(f"pattern {text!r} needs 0 < N < M (N zeros in every M weights); e.g. 2:4 or 4:8")
    return SparsityTarget(n / m, n, m)


def check_sparsegpt_target(target: SparsityTarget, block_size: int = BLOCK_SIZE) -> None:
    """N:M groups are chosen inside one block of columns, so M must divide the block size: a group that straddled
    two blocks would be cut in two, each part losing N weights."""
    if target.is_n_m and block_size % target.m:
        divisors = [m for m in range(2, block_size + 1) if block_size % m == 0]
        raise ConfigError(
            f"pattern {target.pattern}: SparseGPT prunes blocks of {block_size} columns, which M={target.m} does not "
            f"divide; accepted M: {', '.join(map(str, divisors))} (e.g. 2:4), or magnitude/wanda for other M"
        )

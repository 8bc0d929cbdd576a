"""Which decoder layers matter least: Block Influence, from ShortGPT ("ShortGPT: Layers in Large Language Models are
More Redundant Than You Expect", Men et al., 2024, arXiv 2403.03853, eq. 1):

    BI_i = 1 - E_t [ x_{i,t} . x_{i+1,t} / (||x_{i,t}|| ||x_{i+1,t}||) ]

the mean over calibration tokens of one minus the cosine between the hidden state entering layer i and the one
leaving it. A layer that barely turns the hidden state has a low BI; ShortGPT removes the layers of lowest BI, all
chosen from one pass of the dense model. Token weights (--cot-weight) weigh the mean as they weigh the Hessians.
"""

from __future__ import annotations

import torch


class BlockInfluence:
    """Accumulates one layer's weighted mean cosine between its input and output hidden states."""

    def __init__(self):
        self.cosine_sum = 0.0
        self.weight_sum = 0.0

    def add(self, inputs: torch.Tensor, outputs: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        x = inputs.reshape(-1, inputs.shape[-1]).float()
        y = outputs.reshape(-1, outputs.shape[-1]).float()
        cosine = torch.nn.functional.cosine_similarity(x, y, dim=-1)
        w = torch.ones_like(cosine) if weights is None else weights.reshape(-1).to(cosine)
        self.cosine_sum += float((cosine * w).sum())
        self.weight_sum += float(w.sum())

    @property
    def value(self) -> float:
        return 1.0 - self.cosine_sum / self.weight_sum if self.weight_sum else 0.0


def least_influential(influences: list[float], count: int) -> list[int]:
    """The `count` layers of lowest block influence, in layer order (ties: the later layer first, as deeper layers
    are the more redundant in ShortGPT's and Gromov et al.'s measurements)."""
    order = sorted(range(len(influences)), key=lambda index: (influences[index], -index))
    return sorted(order[:count])

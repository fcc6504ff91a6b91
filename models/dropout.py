"""TimeStepDropout: drop each spike independently per time step and neuron (training only)."""
from __future__ import annotations

import torch

from snnpipe.pipeline.ir.errors import SnnpipeError


class TimeStepDropout(torch.nn.Module):
    """Zero each element of x (batch, ..., T) with probability ``p`` while training.

    Kept spikes are not rescaled, so binary spikes stay binary (as Rockpool's TimeStepDropout).
    ``generator`` makes the masks reproducible.
    """

    def __init__(self, p: float = 0.1, generator: torch.Generator | None = None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise SnnpipeError("dropout probability out of range", field="p",
                               expected="0 <= p < 1", found=p)
        self.p, self.generator = float(p), generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device="cpu") >= self.p
        return x * keep.to(device=x.device, dtype=x.dtype)

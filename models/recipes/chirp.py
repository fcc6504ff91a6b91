"""Chirp recipe data: frozen Poisson noise on 200 channels -> a chirp signal (the LIF tutorial).

The target is ``sin(2 pi t (chirp_freq_factor t))`` over ``duration`` seconds, the input a
frozen Bernoulli raster with ``spiking_prob`` per step and channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ChirpTask:
    """Task parameters: ``dt`` and ``duration`` in seconds."""

    n_inputs: int = 200
    dt: float = 1e-3
    duration: float = 1.0
    chirp_freq_factor: float = 10.0
    spiking_prob: float = 0.01

    @property
    def steps(self) -> int:
        return int(np.round(self.duration / self.dt))

    def target(self) -> torch.Tensor:
        """The chirp, float32 (1, 1, steps)."""
        t = np.linspace(0, (self.steps - 1) * self.dt, self.steps)
        return torch.from_numpy(np.sin(t * 2 * np.pi * (t * self.chirp_freq_factor)).astype(np.float32))[None, None]

    def noise(self, seed: int) -> torch.Tensor:
        """The frozen input raster, float32 (1, n_inputs, steps) of 0/1."""
        rng = np.random.default_rng(seed)
        return torch.from_numpy((rng.random((1, self.n_inputs, self.steps)) < self.spiking_prob).astype(np.float32))


def correlation(output, target) -> float:
    """Pearson correlation between two signals of equal length (flattened)."""
    a, b = np.ravel(np.asarray(output, dtype=np.float64)), np.ravel(np.asarray(target, dtype=np.float64))
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])

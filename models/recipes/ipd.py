"""IPD recipe data: sound localisation by interaural phase difference, as the tutorial generates it.

Two ears with ``anf_per_ear`` auditory-nerve fibres each; fibre k of both ears has a phase delay
``linspace(0, pi/2, anf_per_ear)[k]``, ear 1 additionally the IPD. Each fibre fires Poisson
spikes at ``rate_max * dt * (0.5 * (1 + sin(theta)))**envelope_power`` with
``theta = 2 pi (f t + offset) + delays``; one random phase offset per call, as in the tutorial.
IPDs are uniform in (-pi/2, pi/2) and discretised into ``num_classes`` (12: 15 degree) classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class IPDTask:
    """Stimulus parameters; ``dt`` and ``duration`` in seconds, rates in Hz."""

    dt: float = 1e-3
    duration: float = 0.1
    anf_per_ear: int = 100
    envelope_power: float = 2.0
    rate_max: float = 600.0
    f: float = 20.0
    num_classes: int = 12

    @property
    def steps(self) -> int:
        return int(np.round(self.duration / self.dt))

    @property
    def n_inputs(self) -> int:
        return 2 * self.anf_per_ear

    def spikes(self, ipd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Spike rasters float32 (n, 2 * anf_per_ear, steps) for IPDs in radians (n,)."""
        t = np.arange(self.steps) * self.dt
        phi = 2 * np.pi * (self.f * t + rng.random())
        delays = np.linspace(0, np.pi / 2, self.anf_per_ear)
        theta = np.concatenate([
            np.broadcast_to(phi[None, None, :] + delays[None, :, None], (len(ipd), self.anf_per_ear, self.steps)),
            phi[None, None, :] + delays[None, :, None] + ipd[:, None, None]], axis=1)
        p = self.rate_max * self.dt * (0.5 * (1 + np.sin(theta))) ** self.envelope_power
        return (rng.random(theta.shape) < p).astype(np.float32)

    def discretise(self, ipd):
        """Class index of each IPD (radians): floor((ipd + pi/2) * num_classes / pi)."""
        return np.clip(((np.asarray(ipd) + np.pi / 2) * self.num_classes / np.pi).astype(np.int64),
                       0, self.num_classes - 1)

    def continuise(self, index):
        """Midpoint IPD (radians) of each class index."""
        return (np.asarray(index) + 0.5) / self.num_classes * np.pi - np.pi / 2

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` samples: spikes (n, 200, steps) float32, class labels int64 (n,), IPDs float64 (n,)."""
        rng = np.random.default_rng(seed)
        ipd = rng.random(n) * np.pi - np.pi / 2
        x = self.spikes(ipd, rng)
        return torch.from_numpy(x), torch.from_numpy(self.discretise(ipd)), torch.from_numpy(ipd)


def mean_abs_error_deg(task: IPDTask, predicted_class, true_ipd) -> float:
    """Mean absolute error in degrees between class midpoints and the true IPDs."""
    return float(np.mean(np.abs(task.continuise(np.asarray(predicted_class)) - np.asarray(true_ipd))) * 180 / np.pi)

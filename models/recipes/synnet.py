"""SynNet recipe data: tone-sequence "keywords" through a 16-channel band-pass front end.

Each sample is three tones of ``tone_steps`` steps (with jittered onsets, frequencies and
loudness, and background noise). The class is the order of the tones (low/mid/high), so it can
only be told at the end: the network must remember the first tone, which SynNet's pyramid of
synaptic time constants provides. The front end, as Xylo Audio's: 16 band-pass channels with
log-spaced centre frequencies (Gaussian tuning in log frequency), rectified, and encoded as
event counts per step by an integrate-and-fire encoder (at most 15 events per step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# class -> tone order (0 low, 1 mid, 2 high)
KEYWORDS = ((0, 1, 2), (2, 1, 0), (0, 2, 0), (2, 0, 2))
BAND_HZ = (300.0, 1000.0, 3000.0)


@dataclass(frozen=True)
class ToneKeywords:
    """Task parameters; one step is ``dt`` seconds."""

    n_channels: int = 16
    steps: int = 200
    dt: float = 1e-3
    tone_steps: int = 40
    gap_steps: int = 15
    f_min: float = 100.0
    f_max: float = 8000.0
    bandwidth_oct: float = 0.5
    noise: float = 0.1
    encoder_threshold: float = 1.0

    @property
    def n_classes(self) -> int:
        return len(KEYWORDS)

    def centres(self) -> np.ndarray:
        """Centre frequencies (Hz) of the 16 channels, log-spaced."""
        return np.geomspace(self.f_min, self.f_max, self.n_channels)

    def band_energy(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rectified filterbank output (n, n_channels, steps) for each label's tone sequence."""
        n = len(labels)
        freq = np.zeros((n, self.steps))
        amp = np.zeros((n, self.steps))
        for i, label in enumerate(labels):
            t = int(rng.integers(0, self.gap_steps))
            for tone in KEYWORDS[label]:
                f = BAND_HZ[tone] * 2 ** rng.normal(0, 0.15)
                freq[i, t:t + self.tone_steps] = f
                amp[i, t:t + self.tone_steps] = rng.uniform(0.6, 1.0)
                t += self.tone_steps + int(rng.integers(5, self.gap_steps))
        octaves = np.log2(np.maximum(freq, 1.0)[:, None, :] / self.centres()[None, :, None])
        tuning = np.exp(-0.5 * (octaves / self.bandwidth_oct) ** 2) * amp[:, None, :]
        return np.maximum(tuning + self.noise * rng.random((n, self.n_channels, self.steps)), 0.0)

    def encode(self, energy: np.ndarray) -> np.ndarray:
        """Integrate-and-fire encoding: events per step (0..15), subtracting the threshold per event."""
        acc = np.zeros(energy.shape[:2])
        out = np.zeros(energy.shape, dtype=np.float32)
        for t in range(energy.shape[2]):
            acc += energy[:, :, t]
            k = np.minimum(np.floor(acc / self.encoder_threshold), 15)
            out[:, :, t] = k
            acc -= k * self.encoder_threshold
        return out

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples: event counts float32 (n, n_channels, steps), labels int64 (n,) balanced."""
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % self.n_classes
        x = self.encode(self.band_energy(labels, rng))
        return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))

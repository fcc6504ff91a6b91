"""WaveSense recipe data: the temporal XOR task exactly as the WaveSense tutorial defines it.

Two stimuli A and B (``T_stim`` steps of event counts 0..``max_num_spikes`` on
``num_channels`` channels; A uses the upper half of the channels, B the lower half) are drawn
once per task from ``pattern_seed``. A sample presents two of them, the second starting at
``T_stim + T_delay - r`` with ``r`` uniform in [-T_randomize, T_randomize); the label is
XOR(first is B, second is B).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# key -> (first stimulus is B, second stimulus is B); label = XOR
KEYS = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass(frozen=True)
class TemporalXOR:
    """Task parameters (steps of ``dt`` = 1 ms), as in the tutorial's ``TemporalXOR``."""

    T_total: int = 100
    T_stim: int = 20
    T_delay: int = 30
    T_randomize: int = 20
    max_num_spikes: int = 15
    num_channels: int = 16
    pattern_seed: int = 0

    def stimuli(self) -> np.ndarray:
        """The two stimuli, int64 (2, num_channels, T_stim): A then B."""
        rng = np.random.default_rng(self.pattern_seed)
        stim = rng.integers(0, self.max_num_spikes + 1, size=(2, self.num_channels, self.T_stim))
        half = self.num_channels // 2
        stim[0, :half] = 0
        stim[1, half:] = 0
        return stim

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples: inputs float32 (n, num_channels, T_total) of counts, labels int64 (n,).

        Keys cycle through the four combinations so every batch of 4 is balanced.
        """
        rng = np.random.default_rng(seed)
        stim = self.stimuli()
        x = np.zeros((n, self.num_channels, self.T_total), dtype=np.float32)
        y = np.zeros(n, dtype=np.int64)
        for i in range(n):
            first, second = KEYS[i % 4]
            t2 = self.T_stim + self.T_delay - int(rng.integers(-self.T_randomize, self.T_randomize))
            x[i, :, :self.T_stim] = stim[first]
            x[i, :, t2:t2 + self.T_stim] = stim[second][:, :max(0, min(self.T_stim, self.T_total - t2))]
            y[i] = first ^ second
        return torch.from_numpy(x), torch.from_numpy(y)

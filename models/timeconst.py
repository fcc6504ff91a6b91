"""Time constants (seconds) as decays (fraction lost per step of ``dt`` seconds), DESIGN 3."""
from __future__ import annotations

import numpy as np


def decay(tau, dt: float = 1e-3) -> np.ndarray:
    """``1 - exp(-dt / tau)``: the exact per-step decay of an exponential with time constant tau."""
    return 1.0 - np.exp(-dt / np.asarray(tau, dtype=np.float64))


def dash_decay(tau, dt: float = 1e-3) -> np.ndarray:
    """Xylo's quantised decay ``2^-dash`` with ``dash = round(log2(tau / dt))`` clipped to 0..15."""
    dash = np.clip(np.rint(np.log2(np.asarray(tau, dtype=np.float64) / dt)), 0, 15)
    return 2.0 ** -dash


def tau(decay_, dt: float = 1e-3) -> np.ndarray:
    """The time constant (seconds) of a per-step decay: ``-dt / log(1 - decay)``."""
    d = np.asarray(decay_, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -dt / np.log1p(-d)

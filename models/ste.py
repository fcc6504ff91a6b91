"""Straight-through estimators: quantised values forward, identity (or a chosen path) backward.

Every function here returns a tensor whose *value* is exactly the quantised one (no float
round-off is added by the estimator) and whose gradient is that of the unquantised input.
"""
from __future__ import annotations

import torch

from snnpipe.hwmap.targets import loihi

WEIGHT_STEP = 2.0 / loihi.WEIGHT_UNIT     # SLAYER's 8-bit weight step: even integers in 1/64
WEIGHT_MIN = loihi.WEIGHT_MIN / loihi.WEIGHT_UNIT
WEIGHT_MAX = loihi.WEIGHT_MAX / loihi.WEIGHT_UNIT


def exact(value: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """``value`` forward, gradient of ``path`` backward.

    ``path - path.detach()`` is exactly zero in IEEE arithmetic, so the result equals ``value``
    bit for bit while gradients reach ``path`` unchanged.
    """
    return path - path.detach() + value.to(path.dtype)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even forward, identity backward."""
    return exact(torch.round(x.detach()), x)


def trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero forward, identity backward."""
    return exact(torch.trunc(x.detach()), x)


def quantize_weight_8bit(w: torch.Tensor) -> torch.Tensor:
    """SLAYER's weight quantiser (``neuron.quantize_8bit``), in float units.

    ``clamp(round_half_even(w * 32) / 32, -4, 254/64)``: even integers in [-256, 254] in 1/64
    units. Straight-through inside the range, zero gradient where the clamp is active.
    """
    return (round_ste(w / WEIGHT_STEP) * WEIGHT_STEP).clamp(WEIGHT_MIN, WEIGHT_MAX)

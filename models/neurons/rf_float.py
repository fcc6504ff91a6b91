"""The ``float`` precision of the resonate-and-fire neurons: the Graph's float semantics
(:func:`snnpipe.pipeline.ir.graph.add_rf`), as Lava's floating-point ``RF`` and ``RF_IZ``
compute them.

Per step, with ``x`` the complex input in float units and ``rot = (1 - decay) exp(i 2 pi /
period)``: ``z = rot z + x``; phase: spike where ``Re z >= threshold`` and ``Im z`` crosses zero
upwards; Izhikevich: spike where ``Im z >= threshold``, then ``Re z = 0`` and ``Im z =
threshold - RESET_GAP`` (Lava's float RF_IZ: 1e-5 below; the fixed point: one state unit).
Values only: no gradients.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

RESET_GAP = 1e-5


class RFFloat(NamedTuple):
    """Float parameters: ``sin_decay``, ``cos_decay`` (``(1 - decay) sin|cos(2 pi /
    period)``, floats or (N,) tensors), ``threshold``, ``izhikevich`` (the variant)."""

    sin_decay: object
    cos_decay: object
    threshold: float
    izhikevich: bool


def rf_float_params(threshold: float, period, decay, variant: str = "phase") -> RFFloat:
    """:class:`RFFloat` of the Graph's ``period`` (steps) and ``decay`` (fraction per step)."""
    period = torch.as_tensor(period, dtype=torch.float64)
    gain = 1 - torch.as_tensor(decay, dtype=torch.float64)
    phi = 2 * torch.pi / period
    return RFFloat(gain * torch.sin(phi), gain * torch.cos(phi), float(threshold),
                   variant == "izhikevich")


def rf_step_float(x_real: torch.Tensor, x_imag: torch.Tensor, state, p: RFFloat):
    """One step: inputs (B, N) float units, ``state`` = ``(real, imag)`` (B, N) float64 (zeros
    to start). Returns ``(spikes, state)``: spikes (B, N) float 0/1, the new state."""
    real, imag = state
    re = p.cos_decay * real - p.sin_decay * imag + x_real
    im = p.sin_decay * real + p.cos_decay * imag + x_imag
    if not p.izhikevich:
        s = (re >= p.threshold) & (im >= 0) & (imag < 0)
        return s.to(x_real.dtype), (re, im)
    s = im >= p.threshold
    return s.to(x_real.dtype), (re * ~s, torch.where(s, p.threshold - RESET_GAP, im))


def rf_float(x_real: torch.Tensor, x_imag: torch.Tensor, p: RFFloat):
    """Spikes, ``real`` and ``imag`` (B, N, T) for complex inputs (B, N, T), float units."""
    zero = torch.zeros(x_real.shape[:-1], dtype=torch.float64)
    state, out = (zero, zero.clone()), []
    for t in range(x_real.shape[-1]):
        s, state = rf_step_float(x_real[..., t].double(), x_imag[..., t].double(), state, p)
        out.append((s, *state))
    return tuple(torch.stack(v, -1) for v in zip(*out))

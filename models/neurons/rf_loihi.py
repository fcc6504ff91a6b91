"""The ``loihi`` precision of the resonate-and-fire neurons (lava-dl's ``slayer.neuron.rf``,
phase threshold, and ``slayer.neuron.rf_iz``, Izhikevich reset): slayer's forward is Loihi
integer arithmetic (``resonator._res_dynamics_fwd`` in int64), which this module computes
with the rule of :func:`snnpipe.hwmap.targets.loihi.rf_step`.

Units: inputs and states are float units outside, integers in 1/4096 inside: the input of a
step enters as ``trunc(x * 4096)`` (slayer's ``(w_scale * x).to(int64)``; exact for slayer's
inputs, 8-bit weights in 1/32 times binary spikes), the threshold as ``trunc(64 th) << 6``
(slayer's ``int(th * 64)``), the decays as slayer holds them, 12-bit integers
(``quantize(sin_decay)``). The chip's 24-bit saturation of the states applies (slayer does not
saturate: the two agree while ``|state| < 2^23 / 4096 = 2048`` float units). Values only: no
gradients.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from snnpipe.hwmap.targets import loihi

UNIT = float(loihi.DECAY_UNIT)         # state units per float unit (slayer's s_scale, 4096)


class RFParams(NamedTuple):
    """Integer parameters: ``sin_decay``, ``cos_decay`` (int or (N,) int64 tensors, 1/4096),
    ``theta`` (state units), ``izhikevich`` (the variant)."""

    sin_decay: object
    cos_decay: object
    theta: int
    izhikevich: bool


def rf_params(threshold: float, sin_decay, cos_decay, variant: str = "phase") -> RFParams:
    """:class:`RFParams` of a float ``threshold`` and slayer's integer decays."""
    theta = int(loihi.threshold_to_int(threshold)) << loihi.ACTIVATION_SHIFT
    return RFParams(torch.as_tensor(sin_decay, dtype=torch.int64),
                    torch.as_tensor(cos_decay, dtype=torch.int64), theta,
                    variant == "izhikevich")


def rf_step_loihi(x_real: torch.Tensor, x_imag: torch.Tensor, state, p: RFParams):
    """One step: inputs (B, N) float units, ``state`` = ``(real, imag)`` (B, N) int64 in 1/4096
    (zeros to start). Returns ``(spikes, state)``: spikes (B, N) float 0/1, the new state."""
    real, imag = state
    s, real, imag = loihi.rf_step(
        (x_real.double() * UNIT).long(), (x_imag.double() * UNIT).long(), real, imag,
        p.sin_decay, p.cos_decay, torch.full_like(real, p.theta), izhikevich=p.izhikevich)
    return s.to(x_real.dtype), (real, imag)


def rf_loihi(x_real: torch.Tensor, x_imag: torch.Tensor, p: RFParams):
    """Spikes, ``real`` and ``imag`` (B, N, T) of an rf population for complex inputs
    (B, N, T) in float units; states are after the step's reset (Izhikevich: ``real = 0``,
    ``imag = theta - 1`` where it spikes), in float units."""
    zero = torch.zeros(x_real.shape[:-1], dtype=torch.int64)
    state, out = (zero, zero.clone()), []
    for t in range(x_real.shape[-1]):
        s, state = rf_step_loihi(x_real[..., t], x_imag[..., t], state, p)
        out.append((s, state[0], state[1]))
    spikes, real, imag = (torch.stack(v, -1) for v in zip(*out))
    return spikes, real.to(x_real.dtype) / UNIT, imag.to(x_real.dtype) / UNIT

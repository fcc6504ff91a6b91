"""The ``loihi`` precision of the CUBA neuron: SLAYER/Loihi integer arithmetic on int64
(DESIGN.md 5.1/5.4) through the rule functions of :mod:`snnpipe.hwmap.targets.loihi`.

``iDecay = round(4096 cd)``, ``vDecay = round(4096 vd)``, ``vThMant = trunc(64 th)``, bias in
the target's mantissa/exponent format (1/4096 units), input ``trunc(4096 x)``, ``trunc0``
decay, 24-bit wrap of u and saturation of v. Values are exact; gradients are those of the
float recursion (straight-through roundings, true decay derivatives, surrogate spike).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.models.neurons.state import CubaParams, CubaState, fire, sequence
from snnpipe.models.ste import exact, round_ste, trunc_ste

UNIT = float(loihi.DECAY_UNIT)          # 4096: state units per float unit
W_UNIT = float(loihi.WEIGHT_UNIT)       # 64: threshold / bias mantissa units per float unit


class LoihiInts(NamedTuple):
    """Integer parameters of the loihi precision, as floats carrying straight-through grads."""

    i_decay: torch.Tensor    # (n_syn, 1|N) 0..4096
    v_decay: torch.Tensor    # () | (N,) 0..4096
    vth_mant: torch.Tensor | None   # () | (N,) threshold mantissa (1/64 units)
    bias: torch.Tensor       # () | (N,) bias in state units (1/4096): mant << exp of the target


def _bias_state(bias: torch.Tensor) -> torch.Tensor:
    """Bias in state units as the Loihi-style target realises it (``bias_mant << bias_exp``,
    :func:`snnpipe.hwmap.targets.loihi.bias_to_int`), with a straight-through gradient."""
    mant, exp = loihi.bias_to_int(bias.detach().cpu().double().numpy())
    value = torch.as_tensor(np.asarray(mant) << np.asarray(exp), dtype=bias.dtype, device=bias.device)
    scaled = bias * UNIT
    return scaled + (value - scaled).detach()


def loihi_ints(p: CubaParams) -> LoihiInts:
    """Quantise float parameters as SLAYER does (round-half-even decays, truncated threshold)
    and the bias as the Loihi-style target does (1/4096 units, mantissa and exponent)."""
    return LoihiInts(round_ste(p.current_decay.clamp(0, 1) * UNIT),
                     round_ste(p.voltage_decay.clamp(0, 1) * UNIT),
                     None if p.threshold is None else trunc_ste(p.threshold * W_UNIT),
                     _bias_state(p.bias))


def cuba_step_loihi(x: torch.Tensor, state: CubaState, p: CubaParams, q: LoihiInts | None = None):
    """One Loihi integer step (values exact, gradients of the float recursion).

    x: (batch, n_syn, N) float32 weighted input; enters the current as ``trunc(4096 x)``.
    ``q`` are the quantised parameters (:func:`loihi_ints`), computed once per sequence.
    Returns ``(s, u, v_pre, state)`` like :func:`snnpipe.models.neurons.cuba_float.cuba_step_float`;
    u and v in float units (integer state / 4096, exact).
    """
    q = loihi_ints(p) if q is None else q
    i_decay, v_decay, bias_i = q.i_decay.detach().long(), q.v_decay.detach().long(), \
        q.bias.detach().long()
    u_i = (state.u.detach() * UNIT).long()
    v_i = (state.v.detach() * UNIT).long()
    x_i = (UNIT * x.detach()).long()
    u_i = loihi.wrap_current(loihi.decay(u_i, i_decay) + x_i)
    v_i = loihi.voltage_step(v_i, u_i.sum(1), v_decay, bias_i)
    u = exact(u_i / UNIT, state.u * (1 - q.i_decay / UNIT) + x)
    v_pre = exact(v_i / UNIT, state.v * (1 - q.v_decay / UNIT) + u.sum(1) + q.bias / UNIT)
    if q.vth_mant is None:
        return None, u, v_pre, CubaState(u, v_pre, state.r)
    theta_i = torch.broadcast_to(loihi.threshold_value(q.vth_mant.detach().long()), v_i.shape)
    if p.spike == "multi":
        n = loihi.spike_count(v_i, theta_i)
    else:
        n = loihi.spike_and_reset(v_i, theta_i)[0].long()
    theta = torch.broadcast_to(q.vth_mant / W_UNIT, v_pre.shape).to(v_pre.dtype)
    s, v_post, r = fire(v_pre, theta, n.to(v_pre.dtype), state, p)
    if p.reset == "subtract":   # keep the subtraction in the 24-bit register
        v_post = exact(loihi.saturate_voltage((v_post.detach() * UNIT).long()) / UNIT, v_post)
    return s, u, v_pre, CubaState(u, v_post, r)


def cuba_loihi(x: torch.Tensor, p: CubaParams, state: CubaState | None = None):
    """Run :func:`cuba_step_loihi` over time; shapes as
    :func:`snnpipe.models.neurons.cuba_float.cuba_float`."""
    return sequence(cuba_step_loihi, x, p, state, (loihi_ints(p),))

"""The ``xylo`` precision of the CUBA neuron: Xylo Audio 2 integer arithmetic (DESIGN 6.2)
through the rule functions of :mod:`snnpipe.hwmap.targets.xylo`.

Units (:mod:`snnpipe.hwmap.targets.xylo`): states are 16-bit integers, ``UNIT`` (1024) of them per float unit; weights are int8
in 1/64 units entering the state shifted left by ``WEIGHT_SHIFT`` (4), so a float weight w is
``clamp(round(64 w), -128, 127) << 4`` state units. Decays become shifts
``dash = round(-log2(decay))`` (0..15, per step ``I -= I >> dash``,
:func:`snnpipe.hwmap.targets.xylo.decay_shift`). Per step::

    I_k = sat16(I_k + x_k);  I_k -= decay(I_k, dash_k)            (input first, then leak)
    V   = sat16(V + sat16(sat16(wrap16(-decay(V, dash_mem)) + sum_k I_k) + bias))
    n   = min(V // theta, cap) for V >= theta;  V -= n * theta      (subtractive reset)

``cap`` is 31 for ``spike="multi"`` (hidden neurons) and 1 otherwise (output neurons); the
reset is always subtractive and the comparison ``>=``, as on the chip (``reset`` and
``refractory`` are not used: the chip has neither zero reset nor refractory periods). The event-ordered
saturation of the chip is vectorised here: exact while no partial sum of one step's inputs
saturates. Gradients are those of the float recursion ``u = (u + x)(1 - d)``, ``v = v (1 - dv)
+ sum u + bias`` on the actual trajectory (straight-through roundings, surrogate spike).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from snnpipe.hwmap.targets import xylo
from snnpipe.hwmap.targets.xylo import (HIDDEN_CAP, OUTPUT_CAP, STATE_MAX, UNIT, WEIGHT_UNIT,
                                        XYLO_AUDIO2)
from snnpipe.models import surrogate as sg
from snnpipe.models.neurons.state import CubaParams, CubaState, sequence
from snnpipe.models.ste import exact, round_ste


class XyloInts(NamedTuple):
    """Quantised parameters (floats carrying straight-through gradients)."""

    syn_decay: torch.Tensor     # (n_syn, 1|N) effective decay 2^-dash
    dash_syn: torch.Tensor      # (n_syn, 1|N) int64
    mem_decay: torch.Tensor
    dash_mem: torch.Tensor
    theta: torch.Tensor | None  # state units
    bias: torch.Tensor          # state units


BIAS_RANGE = XYLO_AUDIO2.bias_range     # the precision is Xylo Audio 2's arithmetic


def _dash(d: torch.Tensor):
    """(the decay the chip computes, 2^-dash, straight-through; dash int64) of decays ``d``
    (:func:`snnpipe.hwmap.targets.xylo.decay_shift`)."""
    dash = torch.as_tensor(xylo.decay_shift(d.detach().cpu().numpy()), device=d.device)
    return exact(2.0 ** -dash.to(d.dtype), d), dash


def xylo_ints(p: CubaParams) -> XyloInts:
    """Decays as shifts, threshold and bias rounded to state units and clipped to what the
    chip holds (thresholds 1..STATE_MAX, 8-bit biases), as the mapper clips them."""
    sd, ds = _dash(p.current_decay)
    md, dm = _dash(p.voltage_decay)
    theta = None if p.threshold is None else round_ste(p.threshold * UNIT).clamp(1, STATE_MAX)
    return XyloInts(sd, ds, md, dm, theta, round_ste(p.bias * UNIT).clamp(*BIAS_RANGE))


def quantize_weight_xylo(w: torch.Tensor) -> torch.Tensor:
    """Float weights -> int8 in 1/64 units (round half even, clamp), straight-through."""
    return (round_ste(w * WEIGHT_UNIT) / WEIGHT_UNIT).clamp(-128 / WEIGHT_UNIT, 127 / WEIGHT_UNIT)


def cuba_step_xylo(x: torch.Tensor, state: CubaState, p: CubaParams,
                   q: XyloInts | None = None):
    """One Xylo step. x: (batch, n_syn, N) float units (multiples of 1/UNIT for exactness).

    Returns ``(s, u, v_pre, state)`` as :func:`snnpipe.models.neurons.cuba_float.cuba_step_float`; s holds
    spike counts. A population without threshold (an ``li`` readout) is what the chip makes of
    it: an output neuron whose threshold is the largest state (``STATE_MAX``), so V resets by
    subtracting it in the step it saturates; its v is that chip value (after the reset).
    """
    q = xylo_ints(p) if q is None else q
    i = torch.round(state.u.detach() * UNIT).long()
    v = torch.round(state.v.detach() * UNIT).long()
    i = xylo.sat16(i + torch.round(x.detach() * UNIT).long())
    i = xylo.current_step(i, q.dash_syn)
    v = xylo.membrane_step(v, i.sum(1), q.dash_mem, q.bias.detach().long())
    u = exact(i / UNIT, (state.u + x) * (1 - q.syn_decay))
    v_pre = exact(v / UNIT, state.v * (1 - q.mem_decay) + u.sum(1) + q.bias / UNIT)
    if q.theta is None:         # a readout: an output neuron whose threshold is the largest state
        _, v_out = xylo.spike_count(v, torch.full_like(v, STATE_MAX), OUTPUT_CAP)
        v_out = exact(v_out / UNIT, v_pre)
        return None, u, v_out, CubaState(u, v_out, state.r)
    theta_i = torch.broadcast_to(q.theta.detach().long(), v.shape)
    cap = HIDDEN_CAP if p.spike == "multi" else OUTPUT_CAP
    n, v_post = xylo.spike_count(v, theta_i, cap)
    theta = torch.broadcast_to(q.theta / UNIT, v_pre.shape).to(v_pre.dtype)
    s = sg.spike(v_pre - theta, theta, p.surrogate, n.to(v_pre.dtype))
    v_post = exact(v_post / UNIT, v_pre)
    return s, u, v_pre, CubaState(u, v_post, state.r)


def cuba_xylo(x: torch.Tensor, p: CubaParams, state: CubaState | None = None):
    """Run :func:`cuba_step_xylo` over time; shapes as :func:`snnpipe.models.neurons.cuba_float.cuba_float`."""
    return sequence(cuba_step_xylo, x, p, state, (xylo_ints(p),))


"""The ``float`` precision of the CUBA neuron: the equations of :mod:`.state` in floating point
(Lava's floating-point models, DESIGN.md 5.3)."""
from __future__ import annotations

import torch

from snnpipe.models.neurons.state import (CubaParams, CubaState, counts_float, fire,
                                          sequence)


def cuba_step_float(x: torch.Tensor, state: CubaState, p: CubaParams):
    """One float step. x: (batch, n_syn, N) float units.

    Returns ``(s, u, v_pre, state)``: s (batch, N), u (batch, n_syn, N), v_pre (batch, N).
    """
    u = state.u * (1 - p.current_decay) + x
    v_pre = state.v * (1 - p.voltage_decay) + u.sum(1) + p.bias
    if p.threshold is None:
        return None, u, v_pre, CubaState(u, v_pre, state.r)
    theta = torch.broadcast_to(p.threshold, v_pre.shape).to(v_pre.dtype)
    n = counts_float(v_pre.detach(), theta.detach(), p.spike)
    s, v_post, r = fire(v_pre, theta, n, state, p)
    return s, u, v_pre, CubaState(u, v_post, r)


def cuba_float(x: torch.Tensor, p: CubaParams, state: CubaState | None = None):
    """Run :func:`cuba_step_float` over time.

    Args:
        x: (batch, n_syn, N, T) weighted input, float units.
    Returns:
        ``(s, u, v, state)``: s (batch, N, T) (None without threshold), u (batch, n_syn, N, T),
        v (batch, N, T) pre-reset voltage, final state.
    """
    return sequence(cuba_step_float, x, p, state)

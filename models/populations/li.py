"""Non-spiking leaky integrator readout (``li``): CUBA dynamics without threshold; output v.

    u_k[t] = u_k[t-1] * (1 - current_decay_k) + x_k[t]
    v[t]   = v[t-1] * (1 - voltage_decay) + sum_k u_k[t] + bias

A readout of the synaptic current alone is ``voltage_decay = 1``. Same precisions as
:mod:`snnpipe.models.neurons.registry` (``loihi``: integer arithmetic with 24-bit wrap/saturation).
"""
from __future__ import annotations

import torch

from snnpipe.models.neurons.state import CubaParams, CubaState
from snnpipe.models.populations.cuba import Cuba, run


def li_sequence(x: torch.Tensor, p: CubaParams, state: CubaState | None = None,
                precision: str = "loihi"):
    """x: (batch, n_syn, N, T) float units -> ``(v (batch, N, T), u (batch, n_syn, N, T), state)``.

    ``p.threshold`` must be None.
    """
    _, u, v, state = run(x, p, state, precision)
    return v, u, state


class Li(Cuba):
    """Leaky integrator population; ``forward(*x)`` returns v (batch, *shape, T) in float units."""

    def __init__(self, *, n_syn: int = 1, current_decay=0.0, voltage_decay=0.0, bias=0.0,
                 precision: str = "loihi", requires_grad: bool = False, train_bias: bool = False,
                 persistent_state: bool = False):
        super().__init__(n_syn=n_syn, current_decay=current_decay, voltage_decay=voltage_decay,
                         threshold=None, bias=bias, precision=precision,
                         requires_grad=requires_grad, train_bias=train_bias,
                         persistent_state=persistent_state)

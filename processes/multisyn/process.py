"""Interfaces of the custom neuron processes lava-nc lacks (implementations in ``snnpipe.models.py``).

``MultiSynCuba``: a CUBA LIF population with ``n_syn`` synaptic currents (DESIGN.md 3, 6.1),
each with its own per-neuron decay. Ports: one input port per synapse, ``a_in0`` ..
``a_in{n_syn-1}`` (``MAX_SYN`` ports are declared; ports beyond ``n_syn`` must stay unconnected
and then contribute zeros). Several projections connected to the same port add.
Per step, for every neuron::

    u_k = u_k * (1 - du_k) + a_k          (fixed point: Lava's wrapped 24-bit rule, du = iDecay - 1)
    v   = v * (1 - dv) + sum_k u_k + bias (fixed point: saturated to 24 bits, bias = mant << exp)
    s   = v > vth                          (strict; fixed point: vth << 6)
    v   = 0 where s ("zero") or v - vth where s ("subtract")

``LeakyReadout`` (the graph's ``li`` model): the same dynamics without threshold; ``s_out``
sends ``v`` every step as a graded value.

Units: fixed point as Lava's LIF (integers; ``a`` in weight units, u and v in weight units
<< 6, decays in 1/4096 with Lava's ``du`` offset); floating point as Lava's float LIF (decays
are fractions lost per step, everything else in weighted-input units).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

MAX_SYN = 4
RESETS = ("zero", "subtract")


def syn_port_name(k: int) -> str:
    """Name of the input port of synaptic current ``k``."""
    return f"a_in{k}"


def _per_syn(value, n_syn: int, n: int) -> np.ndarray:
    """Broadcast a scalar, (n_syn,) or (n_syn, n) value to (n_syn, n)."""
    a = np.asarray(value)
    if a.ndim == 1 and a.shape[0] == n_syn:
        a = a[:, None]
    return np.broadcast_to(a, (n_syn, n)).copy()


class _LeakyBase(AbstractProcess):
    """Shared ports and variables of :class:`MultiSynCuba` and :class:`LeakyReadout`."""

    def __init__(self, *, shape, n_syn: int, du, dv, bias_mant, bias_exp, u, v, name,
                 **params) -> None:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if len(shape) != 1:
            raise ValueError(f"expected a flat population shape (N,), found {shape}")
        if not 1 <= int(n_syn) <= MAX_SYN:
            raise ValueError(f"n_syn must be in 1..{MAX_SYN}, found {n_syn}")
        n, n_syn = shape[0], int(n_syn)
        super().__init__(shape=shape, n_syn=n_syn, name=name, **params)
        for k in range(MAX_SYN):
            setattr(self, syn_port_name(k), InPort(shape=shape))
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=(n_syn, n), init=_per_syn(u, n_syn, n))
        self.v = Var(shape=shape, init=np.broadcast_to(v, shape).copy())
        self.du = Var(shape=(n_syn, n), init=_per_syn(du, n_syn, n))
        self.dv = Var(shape=shape, init=np.broadcast_to(dv, shape).copy())
        self.bias_mant = Var(shape=shape, init=np.broadcast_to(bias_mant, shape).copy())
        self.bias_exp = Var(shape=shape, init=np.broadcast_to(bias_exp, shape).copy())


class MultiSynCuba(_LeakyBase):
    """Multi-synapse CUBA LIF population, shape (N,).

    Args:
        shape: (N,).
        n_syn: number of synaptic currents, 1..MAX_SYN.
        du: current decays, scalar, (n_syn,) or (n_syn, N); fixed point: Lava ``du`` (iDecay - 1).
        dv: voltage decay, scalar or (N,).
        vth: threshold, scalar or (N,); fixed point: mantissa (compared as ``vth << 6``).
        bias_mant, bias_exp: bias mantissa and exponent, scalar or (N,) (float: exponent ignored).
        reset: "zero" or "subtract".
        u, v: initial states, (n_syn, N) and (N,).
    """

    def __init__(self, *, shape, n_syn: int = 1, du=0, dv=0, vth=10, bias_mant=0,
                 bias_exp=0, reset: str = "zero", u=0, v=0, name=None) -> None:
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, found {reset!r}")
        super().__init__(shape=shape, n_syn=n_syn, du=du, dv=dv, bias_mant=bias_mant,
                         bias_exp=bias_exp, u=u, v=v, name=name, reset=reset)
        self.vth = Var(shape=self.v.shape, init=np.broadcast_to(vth, self.v.shape).copy())


class LeakyReadout(_LeakyBase):
    """Non-spiking leaky integrator (graph model ``li``), shape (N,): ``s_out`` sends ``v``.

    Args as :class:`MultiSynCuba`, without ``vth`` and ``reset``.
    """

    def __init__(self, *, shape, n_syn: int = 1, du=0, dv=0, bias_mant=0, bias_exp=0, u=0,
                 v=0, name=None) -> None:
        super().__init__(shape=shape, n_syn=n_syn, du=du, dv=dv, bias_mant=bias_mant,
                         bias_exp=bias_exp, u=u, v=v, name=name)

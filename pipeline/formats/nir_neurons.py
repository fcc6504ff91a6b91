"""NIR neuron nodes -> our populations, under one producer's :class:`Conventions`.

:func:`population` turns one NIR neuron node (IF, I, LI, LIF, CubaLI, CubaLIF, Threshold) into
a :class:`Population`: our node's attributes (float units, decays as the fraction lost per
step, DESIGN.md 3) plus what the edges into it need: the gain that folds the producer's input
scaling into the weights, the current that takes constant drives, and the correction that
snnTorch's reset needs. Per-neuron arrays are flat (N,) float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from snnpipe.pipeline.formats.nir_chain import as_array
from snnpipe.pipeline.formats.nir_conventions import Conventions
from snnpipe.pipeline.ir.errors import GraphError

SPIKING = (nir.IF, nir.LIF, nir.CubaLIF, nir.Threshold)
NEURONS = SPIKING + (nir.I, nir.LI, nir.CubaLI)
SNAP = 1e-12                  # gains within this of 1 are 1 (our own files come back exactly)


@dataclass
class Population:
    """One imported population.

    Attributes:
        attrs: keyword arguments of :func:`snnpipe.pipeline.ir.graph.add_neuron` (no shape).
        gain: (N,) factor on every projection into the synaptic current (syn 0).
        drive: (N,) constant added to v every step (from v_leak), float units.
        direct: the current index whose input reaches v within the step (decay 1).
        self_weight: (N,) weight of a recurrent self-projection into ``direct`` (snnTorch's
            reset after the decay), or None.
    """

    attrs: dict
    gain: np.ndarray
    drive: np.ndarray
    direct: int
    self_weight: np.ndarray | None = None


def _arr(node, name, n: int, default=None) -> np.ndarray:
    """A parameter of ``node`` broadcast to (N,) float64; GraphError when absent or not finite."""
    value = getattr(node, name, None)
    if value is None:
        if default is None:
            raise GraphError("missing neuron parameter", field=name, expected="an array")
        value = default
    a = as_array(value).reshape(-1)
    if a.size not in (1, n):
        raise GraphError("neuron parameter has the wrong size", field=name,
                         expected=f"1 or {n} values", found=a.size)
    if not np.all(np.isfinite(a)):
        raise GraphError("non-finite neuron parameter", field=name, expected="finite numbers",
                         found="NaN or inf")
    return np.broadcast_to(a, (n,)).astype(np.float64)


def _steps(tau: np.ndarray, c: Conventions, dt: float, field: str) -> np.ndarray:
    """A written time constant in steps of the simulation."""
    if np.any(tau <= 0):
        raise GraphError("time constants must be positive", field=field, expected="tau > 0",
                         found=float(tau.min()))
    per = {"dt": dt, "rockpool": dt, "fixed": c.step_tau, "norse": dt * c.step_tau}[c.tau]
    return tau / per


def _decay(steps: np.ndarray, c: Conventions, field: str) -> np.ndarray:
    """Fraction lost per step of a time constant of ``steps`` steps."""
    if c.decay == "exact":
        return -np.expm1(-1.0 / steps)
    d = 1.0 / steps
    if np.any(d > 1):
        raise GraphError("a forward-Euler decay above 1 (tau shorter than a step)", field=field,
                         expected="tau >= one step", found=float(steps.min()))
    return d


def _mem_gain(rule: str, vd: np.ndarray, r: np.ndarray, dt: float) -> np.ndarray:
    return {"ode": vd * r, "one": r, "dt": dt * r, "unit": np.ones_like(r),
            "decayed": 1 - vd}[rule]


def _collapse(a: np.ndarray) -> np.ndarray:
    """0-d when uniform, else flat (N,): how our Graph stores per-neuron parameters."""
    return np.array(a[0]) if np.all(a == a[0]) else a.copy()


def _threshold(theta: np.ndarray, c: Conventions) -> np.ndarray:
    """Our strict threshold for the producer's comparison (``>=``: the float64 just below)."""
    return np.nextafter(theta, -np.inf) if c.threshold == ">=" else theta


def population(name: str, node, n: int, c: Conventions, dt: float) -> Population:
    """Our population for NIR neuron ``node`` of N = ``n`` neurons (see the module docstring).

    Raises:
        GraphError: a feature the conventions cannot express (non-zero v_reset with a reset to
            v_reset, non-positive tau, ...), naming the node and field.
    """
    try:
        return _population(node, n, c, dt)
    except GraphError as e:
        raise GraphError(e.message, where=name, field=e.field, expected=e.expected,
                         found=e.found) from None


def _population(node, n: int, c: Conventions, dt: float) -> Population:
    kind = type(node).__name__
    ones, zeros = np.ones(n), np.zeros(n)
    if isinstance(node, nir.Threshold):          # stateless: spikes where x > threshold
        th = _arr(node, "threshold", n)
        return Population(dict(current_decay=1.0, voltage_decay=1.0,
                               threshold=_collapse(_threshold(th, c)), bias=0.0,
                               reset="zero"), ones, zeros, 0)
    r = _arr(node, "r", n, 1.0)
    if isinstance(node, (nir.IF, nir.I)):
        vd, leak = zeros, zeros
    else:
        tau = _arr(node, "tau_mem" if hasattr(node, "tau_mem") else "tau", n)
        vd = _decay(_steps(tau, c, dt, "tau_mem"), c, "tau_mem")
        leak = _arr(node, "v_leak", n, 0.0)
    g_mem = _mem_gain(c.gain(kind), vd, r, dt)
    cd, g_syn = ones, ones
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        cd = _decay(_steps(_arr(node, "tau_syn", n), c, dt, "tau_syn"), c, "tau_syn")
        w_in = _arr(node, "w_in", n, 1.0)
        g_syn = {"ode": cd * w_in, "jump": w_in, "decayed": (1 - cd) * w_in}[c.syn_gain]
    # the leak drive enters v as (1 - e) v_leak under the ODE rules, as v_leak under "one"
    drive = leak * (vd if c.gain(kind) == "ode" else 1.0)
    gain = g_syn * g_mem
    gain = np.where(np.abs(gain - 1) <= SNAP, 1.0, gain)
    needs_direct = c.reset == "subtract-after-decay" or (np.any(drive) and c.timing != "graph")
    direct = 1 if needs_direct and np.any(cd != 1) else 0
    attrs = dict(current_decay=_current_decay(cd, direct), voltage_decay=_collapse(vd),
                 bias=_collapse(drive) if c.timing == "graph" else 0.0, n_syn=direct + 1)
    if not isinstance(node, SPIKING):
        return Population(dict(attrs, model="li"), gain, drive, direct)
    theta = _arr(node, "v_threshold", n)
    attrs.update(threshold=_collapse(_threshold(theta, c)), spike=c.spike,
                 reset="zero" if c.reset == "zero" else "subtract")
    if c.reset == "zero":
        v_reset = _arr(node, "v_reset", n, 0.0)
        if np.any(v_reset != 0):
            raise GraphError("only a reset to zero is supported", field="v_reset",
                             expected=0.0, found=float(v_reset[v_reset != 0][0]))
    self_weight = -vd * theta if c.reset == "subtract-after-decay" else None
    if self_weight is not None and not np.any(self_weight):
        self_weight = None
    return Population(attrs, gain, drive, direct, self_weight)


def _current_decay(cd: np.ndarray, direct: int) -> np.ndarray:
    """(n_syn,) or (n_syn, N): the synaptic current's decay, then a current of decay 1."""
    rows = [cd] + [np.ones_like(cd)] * direct
    a = np.stack(rows)
    return a[:, 0].copy() if np.all(a == a[:, :1]) else a

"""Parameters, state and the time loop shared by the CUBA step functions of every precision.

Per neuron and step t, with ``x_k[t]`` the weighted input of current k (float units)::

    u_k[t] = u_k[t-1] * (1 - current_decay_k) + x_k[t]
    v'[t]  = v[t-1] * (1 - voltage_decay) + sum_k u_k[t] + bias       (pre-reset voltage)
    s[t]   = v'[t] > threshold                                          (strict, as Loihi)
    v[t]   = 0 where s (reset "zero") or v'[t] - s * threshold ("subtract")

Spikes: ``binary`` (0/1), ``graded`` (payload v'), ``multi`` (the number of thresholds v'
exceeds, at most :data:`snnpipe.hwmap.targets.loihi.MAX_SPIKES`). ``refractory`` steps after a
spike hold v at zero and suppress spikes. Gradients are those of the float recursion on the
actual trajectory: the spike uses a surrogate and the reset is ignored in backward (as SLAYER).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from snnpipe.hwmap.targets.loihi import MAX_SPIKES
from snnpipe.models import surrogate as sg
from snnpipe.models.ste import exact


@dataclass(frozen=True)
class CubaParams:
    """Parameters in float units, broadcast against (batch, N) per current.

    Attributes:
        current_decay: (n_syn, 1) or (n_syn, N) fraction of each current lost per step.
        voltage_decay: () or (N,) fraction of v lost per step.
        threshold: () or (N,) in units of the weighted input; ``None`` for no spiking (li).
        bias: () or (N,) added to v every step.
    """

    current_decay: torch.Tensor
    voltage_decay: torch.Tensor
    threshold: torch.Tensor | None
    bias: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    reset: str = "zero"
    spike: str = "binary"
    refractory: int = 0
    surrogate: object = sg.SlayerExp()

    @property
    def n_syn(self) -> int:
        return int(self.current_decay.shape[0])


class CubaState(NamedTuple):
    """u: (batch, n_syn, N), v: (batch, N) post-reset, both float units; r: (batch, N) int64
    refractory steps left."""

    u: torch.Tensor
    v: torch.Tensor
    r: torch.Tensor


def initial_state(batch: int, n_syn: int, n: int, dtype=torch.float32, device=None) -> CubaState:
    """All-zero state for ``batch`` samples of ``n`` neurons with ``n_syn`` currents."""
    return CubaState(torch.zeros(batch, n_syn, n, dtype=dtype, device=device),
                     torch.zeros(batch, n, dtype=dtype, device=device),
                     torch.zeros(batch, n, dtype=torch.int64, device=device))


def fire(v_pre, theta, n_value, state: CubaState, p: CubaParams):
    """Spikes and reset from the exact pre-reset voltage ``v_pre`` (batch, N) and the exact
    spike counts ``n_value`` (batch, N); refractory neurons are held. Returns (s, v_post, r)."""
    blocked = state.r > 0
    v_pre = torch.where(blocked, torch.zeros_like(v_pre), v_pre)
    n_value = torch.where(blocked, torch.zeros_like(n_value), n_value)
    fired = n_value > 0
    x = v_pre - theta
    if p.spike == "multi":
        s = sg.spike(x, theta, p.surrogate, n_value)
    else:
        s = sg.spike(x, theta, p.surrogate, fired)
        if p.spike == "graded":
            s = s * v_pre
    if p.reset == "subtract":
        removed = (n_value if p.spike == "multi" else fired).to(v_pre.dtype) * theta.detach()
        v_post = v_pre - removed
    else:
        v_post = exact(torch.where(fired, torch.zeros_like(v_pre), v_pre.detach()), v_pre)
    r = torch.where(fired, torch.full_like(state.r, p.refractory), (state.r - 1).clamp_min(0))
    return s, v_post, r


def counts_float(v, theta, spike: str):
    """Float spike counts: ``v > theta`` (binary, graded), or the number of thresholds v
    exceeds, 1..MAX_SPIKES (multi)."""
    if spike == "multi":
        n = torch.ceil(v / theta) - 1
        return torch.where(v > theta, n.clamp(1, MAX_SPIKES), torch.zeros_like(v))
    return (v > theta).to(v.dtype)


def sequence(step, x: torch.Tensor, p: CubaParams, state: CubaState | None = None, extra=()):
    """Run ``step(x_t, state, p, *extra)`` over the last axis of x (batch, n_syn, N, T).

    Returns ``(s, u, v, state)``: s (batch, N, T) (None without threshold), u (batch, n_syn,
    N, T), v (batch, N, T) pre-reset voltage, final state.
    """
    batch, n_syn, n, steps = x.shape
    if state is None:
        state = initial_state(batch, n_syn, n, x.dtype, x.device)
    spikes, us, vs = [], [], []
    for t in range(steps):
        s, u, v, state = step(x[..., t], state, p, *extra)
        spikes.append(s)
        us.append(u)
        vs.append(v)
    s = None if spikes[0] is None else torch.stack(spikes, -1)
    return s, torch.stack(us, -1), torch.stack(vs, -1), state

"""CUBA LIF populations: the torch module that holds the parameters (:class:`Cuba`) and the
dispatcher (:func:`run`) that runs a precision's sequence function
(:mod:`snnpipe.models.neurons`) or its fused kernel (:mod:`snnpipe.models.kernels`).

The dynamics, units and precisions are those of :mod:`snnpipe.models.neurons.state` and
:mod:`snnpipe.models.neurons.registry`.
"""
from __future__ import annotations

import math

import torch

from snnpipe.models import kernels
from snnpipe.models import surrogate as sg
from snnpipe.models.neurons.registry import precision as precision_named
from snnpipe.models.neurons.state import CubaParams, CubaState, initial_state
from snnpipe.pipeline.ir.errors import SnnpipeError


def cuba_recurrent(x: torch.Tensor, p: CubaParams, w_rec: torch.Tensor,
                   state: CubaState | None = None, precision: str = "loihi"):
    """CUBA population with recurrent weights: ``x_0[t] += w_rec @ s[t-1]`` (current 0).

    Args:
        x: (batch, n_syn, N, T) feed-forward input, float units.
        w_rec: (N, N) recurrent weight, float units (already quantised if needed).
    Returns:
        as :func:`cuba_float`. The feedback starts from zero spikes at every call.
    """
    batch, n_syn, n, steps = x.shape
    state = initial_state(batch, n_syn, n, x.dtype, x.device) if state is None else state
    prec = precision_named(precision)
    step, extra = prec.step, prec.extra(p)
    s = torch.zeros(batch, n, dtype=x.dtype, device=x.device)
    spikes, us, vs = [], [], []
    for t in range(steps):
        fb = torch.matmul(s, w_rec.t())
        z = torch.cat([x[:, :1, :, t] + fb[:, None], x[:, 1:, :, t]], 1)
        s, u, v, state = step(z, state, p, *extra)
        spikes.append(s)
        us.append(u)
        vs.append(v)
    return torch.stack(spikes, -1), torch.stack(us, -1), torch.stack(vs, -1), state


def run(x: torch.Tensor, p: CubaParams, state: CubaState | None = None, precision: str = "loihi",
        kernel: str | None = None):
    """Dispatch to the sequence function of ``precision``
    (:data:`snnpipe.models.neurons.registry.PRECISIONS`).

    ``kernel`` (default ``$SNNPIPE_KERNEL`` or ``auto``): ``auto``/``fused`` run the fused
    kernel of :mod:`snnpipe.models.kernels` where it supports the case, ``reference`` always runs the
    reference function (the specification the kernel is tested against).
    """
    sequence = precision_named(precision).sequence
    fused = kernels.select(x, p, state, precision, kernel)
    if fused is not None:
        return fused(x, p, state, precision)
    return sequence(x, p, state)



def expand(param: torch.Tensor, shape) -> torch.Tensor:
    """A parameter given as a scalar, per channel (C,) or per neuron (N,) or (C, H, W), as a
    0-d tensor or a (N,) tensor for a population of ``shape``."""
    n = math.prod(int(d) for d in shape)
    if param.dim() == 0 or param.numel() == 1:
        return param.reshape(())
    if param.numel() == n:
        return param.reshape(n)
    if len(shape) > 1 and param.numel() == shape[0]:
        return param.reshape(-1, *([1] * (len(shape) - 1))).expand(*shape).reshape(n)
    raise SnnpipeError("parameter does not fit the population",
                       expected=f"1, {shape[0]} or {n} values", found=tuple(param.shape))


def _param(value, requires_grad: bool) -> torch.nn.Parameter:
    t = torch.as_tensor(value, dtype=torch.float32).clone()
    return torch.nn.Parameter(t, requires_grad=requires_grad)


class Cuba(torch.nn.Module):
    """CUBA LIF population (a thin module around :func:`run`).

    Args:
        n_syn: number of synaptic currents.
        current_decay: fraction lost per step: scalar, (n_syn,) or (n_syn, C|N).
        voltage_decay, threshold, bias: scalar, per channel (C,) or per neuron (N,).
            ``threshold=None`` makes a non-spiking (li) population.
        reset, spike, refractory: see the module docstring.
        precision: ``loihi`` (default), ``float`` or ``xylo``.
        surrogate: spike surrogate; default SLAYER's with ``tau_grad``, ``scale_grad``.
        requires_grad: train the decays (SLAYER's name); ``train_threshold``, ``train_bias``.
        persistent_state: keep the final state for the next call (same batch size).

    ``forward(*x)`` takes one input per current, each (batch, *shape, T) in float units, and
    returns spikes (batch, *shape, T) (v for a non-spiking population); ``w_rec`` (N, N) adds
    recurrent weights onto current 0. With ``record=True`` it also returns
    ``{"u": (batch, n_syn, *shape, T), "v": (batch, *shape, T)}`` (v before reset, as SLAYER
    reports it).
    """

    def __init__(self, *, n_syn: int = 1, current_decay=0.0, voltage_decay=0.0, threshold=1.0,
                 bias=0.0, reset: str = "zero", spike: str = "binary", refractory: int = 0,
                 precision: str = "loihi", surrogate=None, tau_grad: float = 1.0,
                 scale_grad: float = 1.0, requires_grad: bool = False,
                 train_threshold: bool = False, train_bias: bool = False,
                 persistent_state: bool = False):
        super().__init__()
        cd = torch.as_tensor(current_decay, dtype=torch.float32)
        if cd.dim() == 0:
            cd = cd.repeat(n_syn)
        self.current_decay = torch.nn.Parameter(cd.clone(), requires_grad=requires_grad)
        self.voltage_decay = _param(voltage_decay, requires_grad)
        self.threshold = None if threshold is None else _param(threshold, train_threshold)
        self.bias = _param(bias, train_bias)
        self.n_syn, self.reset, self.spike, self.refractory = int(n_syn), reset, spike, int(refractory)
        self.precision = precision
        self.surrogate = surrogate or sg.SlayerExp(tau_grad, scale_grad)
        self.persistent_state = persistent_state
        self.state: CubaState | None = None

    def params(self, shape) -> CubaParams:
        """The functional parameters for a population of ``shape`` (without batch and time)."""
        cd = self.current_decay
        cd = torch.stack([expand(c, shape) for c in cd]) if cd.dim() > 1 else cd
        cd = cd.reshape(self.n_syn, -1)
        th = None if self.threshold is None else expand(self.threshold, shape)
        return CubaParams(cd, expand(self.voltage_decay, shape), th, expand(self.bias, shape),
                          self.reset, self.spike, self.refractory, self.surrogate)

    def forward(self, *x: torch.Tensor, record: bool = False, w_rec: torch.Tensor | None = None):
        if len(x) != self.n_syn:
            raise SnnpipeError("one input per synaptic current", field="input",
                               expected=self.n_syn, found=len(x))
        batch, shape, steps = x[0].shape[0], tuple(x[0].shape[1:-1]), x[0].shape[-1]
        if self.n_syn == 1:      # a view: keeps the layout (time-major from the synapses)
            z = x[0].reshape(batch, -1, steps).unsqueeze(1)
        else:                    # stacked time-major (T, n_syn, batch, N), as the kernel reads
            z = torch.stack([xi.reshape(batch, -1, steps).permute(2, 0, 1) for xi in x], 1)
            z = z.permute(2, 1, 3, 0)
        state = self.state
        if state is not None and (state.v.shape[0] != batch or state.v.shape[1] != z.shape[2]):
            state = None
        if w_rec is None:
            s, u, v, final = run(z, self.params(shape), state, self.precision)
        else:
            s, u, v, final = cuba_recurrent(z, self.params(shape), w_rec, state, self.precision)
        if self.persistent_state:
            self.state = CubaState(*(t.detach() for t in final))
        out = v if s is None else s
        out = out.reshape(batch, *shape, steps)
        if not record:
            return out
        return out, {"u": u.reshape(batch, self.n_syn, *shape, steps),
                     "v": v.reshape(batch, *shape, steps)}

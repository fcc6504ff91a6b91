"""CUBA LIF neurons with ``n_syn`` synaptic currents: pure step/sequence functions per precision.

Per neuron and step t, with ``x_k[t]`` the weighted input of current k (float units)::

    u_k[t] = u_k[t-1] * (1 - current_decay_k) + x_k[t]
    v'[t]  = v[t-1] * (1 - voltage_decay) + sum_k u_k[t] + bias       (pre-reset voltage)
    s[t]   = v'[t] > threshold                                          (strict, as Loihi)
    v[t]   = 0 where s (reset "zero") or v'[t] - s * threshold ("subtract")

Precisions (one sequence function each; a fused kernel may replace any of them):
    ``loihi``  SLAYER/Loihi integer arithmetic on int64 (DESIGN 5.1/5.4) through the rule
               functions of :mod:`snnpipe.hwmap.targets.loihi`: ``iDecay = round(4096 cd)``,
               ``vDecay = round(4096 vd)``, ``vThMant = trunc(64 th)``, bias in 1/64 units,
               input ``trunc(4096 x)``, ``trunc0`` decay, 24-bit wrap of u and saturation of v.
    ``float``  the equations above in floating point (DESIGN 5.3).
    ``xylo``   Xylo Audio 2 integer arithmetic (:mod:`snnpipe.models.neurons.cuba_xylo`).

Gradients are those of the float recursion evaluated on the actual trajectory: roundings are
straight-through, decay gradients are the true derivatives, the spike uses a surrogate and the
reset is ignored in backward (as SLAYER). Spikes: ``binary`` (0/1), ``graded`` (payload v'),
``multi`` (the number of thresholds v' exceeds, at most ``MAX_SPIKES``). ``refractory`` steps
after a spike hold v at zero and suppress spikes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.models import kernels
from snnpipe.models import surrogate as sg
from snnpipe.models.ste import exact, round_ste, trunc_ste
from snnpipe.pipeline.ir.errors import SnnpipeError

MAX_SPIKES = 31
UNIT = float(loihi.DECAY_UNIT)          # 4096: state units per float unit
W_UNIT = float(loihi.WEIGHT_UNIT)       # 64: threshold / bias mantissa units per float unit


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


class LoihiInts(NamedTuple):
    """Integer parameters of the loihi precision, as floats carrying straight-through grads."""

    i_decay: torch.Tensor    # (n_syn, 1|N) 0..4096
    v_decay: torch.Tensor    # () | (N,) 0..4096
    vth_mant: torch.Tensor | None   # () | (N,) threshold mantissa (1/64 units)
    bias: torch.Tensor       # () | (N,) bias in state units (1/4096): mant << exp of the target


def _bias_state(bias: torch.Tensor) -> torch.Tensor:
    """Bias in state units as the Loihi-style target realises it (``bias_mant << bias_exp``,
    :func:`snnpipe.hwmap.mappers.loihi_quant.bias_to_int`), with a straight-through gradient."""
    from snnpipe.hwmap.mappers.loihi_quant import bias_to_int

    mant, exp = bias_to_int(bias.detach().cpu().double().numpy())
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


def _fire(v_pre, theta, n_value, state: CubaState, p: CubaParams):
    """Spikes and reset from the exact pre-reset voltage. Returns (s, v_post, r)."""
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


def _counts_float(v, theta, spike: str):
    if spike == "multi":
        n = torch.ceil(v / theta) - 1
        return torch.where(v > theta, n.clamp(1, MAX_SPIKES), torch.zeros_like(v))
    return (v > theta).to(v.dtype)


def cuba_step_float(x: torch.Tensor, state: CubaState, p: CubaParams):
    """One float step. x: (batch, n_syn, N) float units.

    Returns ``(s, u, v_pre, state)``: s (batch, N), u (batch, n_syn, N), v_pre (batch, N).
    """
    u = state.u * (1 - p.current_decay) + x
    v_pre = state.v * (1 - p.voltage_decay) + u.sum(1) + p.bias
    if p.threshold is None:
        return None, u, v_pre, CubaState(u, v_pre, state.r)
    theta = torch.broadcast_to(p.threshold, v_pre.shape).to(v_pre.dtype)
    n = _counts_float(v_pre.detach(), theta.detach(), p.spike)
    s, v_post, r = _fire(v_pre, theta, n, state, p)
    return s, u, v_pre, CubaState(u, v_post, r)


def cuba_step_loihi(x: torch.Tensor, state: CubaState, p: CubaParams, q: LoihiInts | None = None):
    """One Loihi integer step (values exact, gradients of the float recursion).

    x: (batch, n_syn, N) float32 weighted input; enters the current as ``trunc(4096 x)``.
    ``q`` are the quantised parameters (:func:`loihi_ints`), computed once per sequence.
    Returns ``(s, u, v_pre, state)`` like :func:`cuba_step_float`; u and v in float units
    (integer state / 4096, exact).
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
        n = torch.where(v_i > theta_i, ((v_i - 1) // theta_i.clamp_min(1)).clamp(1, MAX_SPIKES), 0)
    else:
        n = loihi.spike_and_reset(v_i, theta_i)[0].long()
    theta = torch.broadcast_to(q.vth_mant / W_UNIT, v_pre.shape).to(v_pre.dtype)
    s, v_post, r = _fire(v_pre, theta, n.to(v_pre.dtype), state, p)
    if p.reset == "subtract":   # keep the subtraction in the 24-bit register
        v_post = exact(loihi.saturate_voltage((v_post.detach() * UNIT).long()) / UNIT, v_post)
    return s, u, v_pre, CubaState(u, v_post, r)


def _sequence(step, x, p, state, extra=()):
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


def cuba_float(x: torch.Tensor, p: CubaParams, state: CubaState | None = None):
    """Run :func:`cuba_step_float` over time.

    Args:
        x: (batch, n_syn, N, T) weighted input, float units.
    Returns:
        ``(s, u, v, state)``: s (batch, N, T) (None without threshold), u (batch, n_syn, N, T),
        v (batch, N, T) pre-reset voltage, final state.
    """
    return _sequence(cuba_step_float, x, p, state)


def cuba_loihi(x: torch.Tensor, p: CubaParams, state: CubaState | None = None):
    """Run :func:`cuba_step_loihi` over time; shapes as :func:`cuba_float`."""
    return _sequence(cuba_step_loihi, x, p, state, (loihi_ints(p),))


PRECISIONS = {"loihi": cuba_loihi, "float": cuba_float}
STEPS = {"loihi": cuba_step_loihi, "float": cuba_step_float}
EXTRAS = {"loihi": loihi_ints}      # per-sequence quantised parameters of a precision


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
    step = STEPS[precision]
    extra = (EXTRAS[precision](p),) if precision in EXTRAS else ()
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
    """Dispatch to the sequence function of ``precision`` (see :data:`PRECISIONS`).

    ``kernel`` (default ``$SNNPIPE_KERNEL`` or ``auto``): ``auto``/``fused`` run the fused
    kernel of :mod:`snnpipe.models.kernels` where it supports the case, ``reference`` always runs the
    reference function (the specification the kernel is tested against).
    """
    if precision not in PRECISIONS:
        raise SnnpipeError("unknown precision", field="precision", expected=sorted(PRECISIONS),
                           found=precision)
    fused = kernels.select(x, p, state, precision, kernel)
    if fused is not None:
        return fused(x, p, state, precision)
    return PRECISIONS[precision](x, p, state)



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


__all__ = ["CubaParams", "CubaState", "LoihiInts", "initial_state", "loihi_ints",
           "cuba_step_float", "cuba_step_loihi", "cuba_float", "cuba_loihi", "cuba_recurrent",
           "run", "expand", "PRECISIONS", "MAX_SPIKES", "Cuba"]

from snnpipe.models.neurons import cuba_xylo  # noqa: E402,F401  (registers the ``xylo`` precision)

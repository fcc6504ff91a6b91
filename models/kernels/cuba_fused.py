"""The CUBA sequence (forward over all steps and its backward) as one fused kernel behind a
``torch.autograd.Function``.

:func:`cuba_fused` has the signature and the results of the reference sequence functions
:func:`models.neurons.cuba.cuba_float` / :func:`~models.neurons.cuba.cuba_loihi`: values are
identical (loihi: bit for bit; float: the same float32 operations in the same order) and the
gradients are those of the reference autograd (surrogate spike, straight-through roundings,
true decay derivatives, reset ignored), up to float32 summation order.

The parameters enter the kernel as effective per-neuron tensors (``a = 1 - current decay``,
``b = 1 - voltage decay``, threshold, bias, in float units) built with torch ops, so the
quantisers' straight-through estimators, the clamps and the broadcasting of scalar or
per-channel parameters keep their ordinary autograd; the kernel returns the gradients w.r.t.
the effective tensors.

Supported (see :func:`supports`): precisions ``float`` and ``loihi``; spikes ``binary`` and
``multi``; resets ``zero`` and ``subtract``; no refractory period; the surrogates of
:mod:`models.surrogate`; float32 CPU tensors; an initial state without refractory counts and
without gradient. Anything else stays on the reference functions. The surrogate derivative
of SLAYER's exponential surrogate is evaluated in the kernel; any other surrogate with a
``derivative`` method is evaluated with it (torch ops) on the recorded voltage.
"""
from __future__ import annotations

import numpy as np
import torch

from models import surrogate as sg
from models.neurons import cuba
from models.ste import exact

try:
    from models.kernels import cuba_numba
except ImportError:          # numba missing: the reference functions run instead
    cuba_numba = None

PRECISIONS = ("float", "loihi")


def available() -> bool:
    """Whether the numba CPU kernel can run (numba importable)."""
    return cuba_numba is not None


def supports(x: torch.Tensor, p: cuba.CubaParams, state: cuba.CubaState | None,
             precision: str) -> bool:
    """Whether :func:`cuba_fused` computes this case (otherwise use the reference)."""
    if not available() or precision not in PRECISIONS or x.device.type != "cpu" \
            or x.dtype != torch.float32 or x.dim() != 4:
        return False
    if p.refractory != 0 or p.spike not in ("binary", "multi") \
            or p.reset not in ("zero", "subtract") or not hasattr(p.surrogate, "derivative"):
        return False
    if state is not None and (state.u.requires_grad or state.v.requires_grad
                              or bool((state.r != 0).any())):
        return False
    return True


class _Config:
    """Non-tensor arguments of one kernel call."""

    def __init__(self, p: cuba.CubaParams, precision: str, ints=None):
        self.precision, self.ints = precision, ints
        self.spiking = int(p.threshold is not None)
        self.multi = int(p.spike == "multi")
        self.subtract = int(p.reset == "subtract")
        self.surrogate = p.surrogate


def _np(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


def _time_major(g, ndim):
    """A gradient (B, [K,] N, T) as a time-major (B, T, [K,] N) array, or a dummy if None."""
    if g is None or g.numel() == 0:
        return np.zeros((1,) * ndim, np.float32), 0
    order = (0, 3, 1, 2) if ndim == 4 else (0, 2, 1)
    return _np(g.permute(*order).contiguous()), 1


class FusedCuba(torch.autograd.Function):
    """``apply(x, a, b, theta, bias, u0, v0, cfg) -> (s, u, v, v_last)``.

    x (B, K, N, T); a (K, N); b, theta, bias (N,); u0 (B, K, N), v0 (B, N), all float32 in
    float units. s (B, N, T) spike counts (empty when not spiking), u (B, K, N, T), v (B, N, T)
    pre-reset, v_last (B, N) post-reset voltage after the last step (no gradient). The kernel
    works time-major; s, u, v are returned as (B, ..., T) views of time-major buffers.
    """

    @staticmethod
    def forward(ctx, x, a, b, theta, bias, u0, v0, cfg: _Config):
        n_b, n_k, n_n, n_t = x.shape
        u = torch.empty(n_b, n_t, n_k, n_n)
        v = torch.empty(n_b, n_t, n_n)
        s = torch.empty(n_b, n_t, n_n) if cfg.spiking else torch.empty(n_b, 1, n_n)
        v_last = torch.empty(n_b, n_n)
        xs = _np(x.permute(0, 3, 1, 2).contiguous())
        arrays = tuple(_np(t) for t in (u0, v0, a, b, theta))   # kept for the backward
        flags = (cfg.spiking, cfg.multi, cfg.subtract, cuba.MAX_SPIKES)
        outs = (s.numpy(), u.numpy(), v.numpy(), v_last.numpy())
        if cfg.precision == "loihi":
            run = cuba_numba.kernel("forward_loihi")
            run(xs, *cfg.ints, *arrays[:2], *flags, *outs)
        else:
            run = cuba_numba.kernel("forward_float")
            run(xs, *arrays[2:], _np(bias), *arrays[:2], *flags, *outs)
        ctx.cfg, ctx.arrays = cfg, arrays
        ctx.set_materialize_grads(False)        # unused outputs cost nothing in backward
        ctx.save_for_backward(u, v, s, theta)
        ctx.mark_non_differentiable(v_last)
        s = s.transpose(1, 2)
        if not cfg.spiking:
            s = torch.empty(0)
            ctx.mark_non_differentiable(s)
        return s, u.permute(0, 2, 3, 1), v.transpose(1, 2), v_last

    @staticmethod
    def backward(ctx, gs, gu, gv, _):
        u, v, s, theta = ctx.saved_tensors
        cfg = ctx.cfg
        n_b, n_t, n_k, n_n = u.shape
        gx = torch.empty(n_b, n_t, n_k, n_n)
        ga = torch.empty(n_b, n_k, n_n)
        gb, gth, gbias = (torch.empty(n_b, n_n) for _ in range(3))
        th = theta.detach()
        slayer = type(cfg.surrogate) is sg.SlayerExp
        if slayer:      # evaluated in the kernel, with the constants of SlayerExp.derivative
            tau = (sg.TAU_RHO_MULT * cfg.surrogate.tau_grad * th.abs()).clamp_min(1e-6)
            coef = sg.SCALE_RHO_MULT * cfg.surrogate.scale_grad / (2 * tau)
        else:
            tau = coef = th
            if cfg.spiking and gs is not None:   # as models.surrogate.spike: ds/dv at v - theta
                gs = gs * cfg.surrogate.derivative(v - th, th).transpose(1, 2)
        (gs_, hs), (gu_, hu), (gv_, hv) = (_time_major(gs, 3), _time_major(gu, 4),
                                          _time_major(gv, 3))
        run = cuba_numba.kernel("backward")
        run(gs_, gu_, gv_, hs, hu, hv, int(slayer), _np(tau), _np(coef),
            u.numpy(), v.numpy(), s.numpy(), *ctx.arrays, cfg.spiking, cfg.subtract,
            int(cfg.precision == "loihi"), gx.numpy(), ga.numpy(), gb.numpy(), gth.numpy(),
            gbias.numpy())
        return (gx.permute(0, 2, 3, 1), ga.sum(0), gb.sum(0), gth.sum(0), gbias.sum(0),
                None, None, None)


def _effective(p: cuba.CubaParams, precision: str, n_n: int):
    """(a (K, N), b, theta, bias (N,)) float32 with autograd, and the loihi integers."""
    n_k = p.n_syn
    ints = None
    if precision == "loihi":
        q = cuba.loihi_ints(p)
        cd, vd, bias = q.i_decay / cuba.UNIT, q.v_decay / cuba.UNIT, q.bias / cuba.UNIT
        th = None if q.vth_mant is None else q.vth_mant / cuba.W_UNIT
        vth_i = torch.zeros(()) if q.vth_mant is None else q.vth_mant
        ints = (_np(torch.broadcast_to(q.i_decay, (n_k, n_n)), np.int64),
                _np(torch.broadcast_to(q.v_decay, (n_n,)), np.int64),
                _np(torch.broadcast_to(vth_i, (n_n,)), np.int64) << cuba.loihi.ACTIVATION_SHIFT,
                _np(torch.broadcast_to(q.bias, (n_n,)), np.int64))
    else:
        cd, vd, th, bias = p.current_decay, p.voltage_decay, p.threshold, p.bias
    f32 = torch.float32
    a = torch.broadcast_to(1 - cd.to(f32), (n_k, n_n))
    b = torch.broadcast_to(1 - torch.as_tensor(vd).to(f32), (n_n,))
    theta = torch.zeros(n_n) if th is None else torch.broadcast_to(th.to(f32), (n_n,))
    bias = torch.broadcast_to(torch.as_tensor(bias).to(f32), (n_n,))
    return (a, b, theta, bias), ints


def cuba_fused(x: torch.Tensor, p: cuba.CubaParams, state: cuba.CubaState | None = None,
               precision: str = "loihi"):
    """The CUBA sequence of ``precision`` in one kernel call; a drop-in for the reference.

    Args:
        x: (batch, n_syn, N, T) float32 weighted input, float units.
        p: parameters; ``supports(x, p, state, precision)`` must hold.
        state: initial state or None (zeros).
    Returns:
        ``(s, u, v, state)``: s (batch, N, T) spike counts (None without threshold),
        u (batch, n_syn, N, T), v (batch, N, T) pre-reset voltage, final state; as
        :func:`models.neurons.cuba.cuba_float`.
    """
    n_b, n_k, n_n, _ = x.shape
    if state is None:
        state = cuba.initial_state(n_b, n_k, n_n, x.dtype, x.device)
    params, ints = _effective(p, precision, n_n)
    cfg = _Config(p, precision, ints)
    s, u, v, v_last = FusedCuba.apply(x, *params, state.u, state.v, cfg)
    final = cuba.CubaState(u[..., -1], exact(v_last, v[..., -1]), state.r)
    return (s if cfg.spiking else None), u, v, final

"""The fused CUBA sequence behind a ``torch.autograd.Function`` (:class:`FusedCuba`) and the
non-tensor arguments of one call (:class:`Config`).

The Function takes the precision's effective parameter tensors (current and voltage decay,
threshold, bias in float units, as scalars or per channel), expands them per neuron (``a = 1
- current decay``, ``b = 1 - voltage decay``), runs one implementation of the loops on
time-major buffers (T, K, B * N) / (T, B * N) and returns (B, K, N, T) / (B, N, T) *views* of
them; its backward runs the adjoint loop and sums the per-neuron gradients back to each
tensor's shape (no autograd nodes for the broadcasting). Implementations (``Config.impl``):
``numba`` (:mod:`.cuba_numba`, CPU tensors; per-neuron numpy parameters), ``triton``
(:mod:`.cuba_triton`) and ``torch`` (:mod:`.cuba_torch`) (per-column torch parameters,
:func:`torch_columns`). The surrogate derivative is evaluated in the loop where the
implementation knows the surrogate (numba: those of :mod:`snnpipe.models.surrogate`; Triton
and torch: SLAYER's), else here with its ``derivative`` method (torch ops) on the recorded
voltage.
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models import surrogate as sg
from snnpipe.models.kernels import cuba_torch
from snnpipe.models.kernels import cuba_triton     # imports without triton (available() is False)
from snnpipe.models.kernels.cuba_torch import spike_buffer
from snnpipe.models.neurons.state import CubaParams

try:
    from snnpipe.models.kernels import cuba_numba
    from snnpipe.models.kernels.cuba_numba_backward import (FAST_SIGMOID, PREMULTIPLIED, SIGMOID,
                                                            SLAYER)
except ImportError:          # numba missing: the reference functions run instead on the CPU
    cuba_numba = None

LOIHI_UNIT = float(loihi.DECAY_UNIT)       # state units per float unit of the loihi precision


def numba_available() -> bool:
    """Whether the numba CPU kernel can run (numba importable)."""
    return cuba_numba is not None


class Config:
    """Non-tensor arguments of one kernel call."""

    def __init__(self, p: CubaParams, precision: str, ints=None, impl: str = "numba"):
        self.precision, self.ints, self.impl = precision, ints, impl
        self.spiking = int(p.threshold is not None)
        self.multi = int(p.spike == "multi")
        self.surrogate = p.surrogate
        if precision == "xylo":     # the chip: subtractive reset, counts up to its cap
            self.subtract, self.max_spikes = 1, xylo.HIDDEN_CAP if self.multi else 1
        else:
            self.subtract, self.max_spikes = int(p.reset == "subtract"), loihi.MAX_SPIKES
        self.v_range = _V_RANGE[precision]
        self.saturate = precision != "float"


# voltage range of the integer precisions, float units (the recomputed reset saturates to it)
_V_RANGE = {"xylo": (np.float32(xylo.STATE_MIN / xylo.UNIT),
                     np.float32(xylo.STATE_MAX / xylo.UNIT)),
            "loihi": (np.float32(-loihi.V_MAX / LOIHI_UNIT),
                      np.float32(loihi.V_MAX / LOIHI_UNIT))}
_V_RANGE["float"] = _V_RANGE["loihi"]          # unused (no saturation)


def _f32(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor's values as float32 numpy (no copy when already float32)."""
    return t.detach().numpy().astype(np.float32, copy=False)


def _per_neuron(q: np.ndarray, shape) -> np.ndarray:
    """A parameter broadcast to its per-neuron shape (K, N) / (N,), contiguous."""
    if q.shape == shape and q.flags.c_contiguous:
        return q
    if q.size == 1:
        return np.full(shape, q.reshape(()), np.float32)
    return np.ascontiguousarray(np.broadcast_to(q, shape))


def torch_columns(cd, vd, theta, bias, n_k: int, n_n: int, n_b: int):
    """The parameters as the torch-op and Triton kernels take them: ``a = 1 - cd`` (K, M),
    ``b = 1 - vd``, theta, bias (M,), float32, detached, repeated for every sample (M = B * N
    columns)."""
    a, b = 1 - cd.detach().float(), 1 - vd.detach().float()
    return (torch.broadcast_to(a, (n_k, n_n)).repeat(1, n_b),
            *(torch.broadcast_to(t.detach().float(), (n_n,)).repeat(n_b) for t in (b, theta, bias)))


def _numba_surrogate(surrogate) -> int:
    """The numba backward's flag for ``surrogate`` (:data:`snnpipe.models.kernels.
    cuba_numba_backward.SURROGATES`; 0: not one it evaluates, the caller multiplies gs by the
    derivative)."""
    kinds = {sg.SlayerExp: SLAYER, sg.Sigmoid: SIGMOID, sg.FastSigmoid: FAST_SIGMOID}
    return kinds.get(type(surrogate), PREMULTIPLIED)


def _surrogate_constants(surrogate, kind: int):
    """The two float32 constants of the numba backward's surrogate ``kind``
    (:data:`snnpipe.models.kernels.cuba_numba_backward.SURROGATES`)."""
    if kind == SLAYER:
        return (np.float32(sg.TAU_RHO_MULT * surrogate.tau_grad),
                np.float32(sg.SCALE_RHO_MULT * surrogate.scale_grad))
    if kind in (SIGMOID, FAST_SIGMOID):
        return np.float32(surrogate.slope), np.float32(0)
    return np.float32(0), np.float32(0)


_NO_GRAD_2D = np.zeros((1, 1), np.float32)       # placeholders for absent gradients (never read)
_NO_GRAD_3D = np.zeros((1, 1, 1), np.float32)


def _time_major(g: torch.Tensor | None):
    """A gradient (B, [K,] N, T) as a contiguous (T, [K,] B, N) tensor (free for the views the
    forward returned), or None."""
    if g is None or g.numel() == 0:
        return None
    order = (3, 1, 0, 2) if g.dim() == 4 else (2, 0, 1)
    return g.permute(*order).contiguous()


class FusedCuba(torch.autograd.Function):
    """``apply(x, cd, vd, theta, bias, u0, v0, cfg) -> (s, u, v, v_last)``.

    x (B, K, N, T); cd (current decays) broadcastable to (K, N); vd (voltage decay), theta,
    bias to (N,); u0 (B, K, N), v0 (B, N) or None (zeros); float units. s (B, N, T) spike
    counts (empty when not spiking), u (B, K, N, T), v (B, N, T) pre-reset (xylo without
    threshold: after the readout's reset by ``STATE_MAX``, as the reference), v_last (B, N)
    post-reset voltage after the last step (its gradient is that of v[..., -1]: the reset
    passes gradients unchanged, as in the reference); s, u, v are views of time-major
    buffers (see the module docstring).
    """

    @staticmethod
    def forward(ctx, x, cd, vd, theta, bias, u0, v0, cfg: Config):
        n_b, n_k, n_n, n_t = x.shape
        n_m = n_b * n_n
        dev = x.device
        ctx.shapes = tuple(t.shape for t in (cd, vd, theta, bias))
        xs = x.detach().permute(3, 1, 0, 2).contiguous().view(n_t, n_k, n_m)   # (T, K, B*N)
        if cfg.impl != "numba":
            if u0 is None:
                u0c, v0c = torch.zeros(n_k, n_m, device=dev), torch.zeros(n_m, device=dev)
            else:
                u0c = u0.detach().permute(1, 0, 2).reshape(n_k, n_m).contiguous()
                v0c = v0.detach().reshape(n_m).contiguous()
            cols = torch_columns(cd, vd, theta, bias, n_k, n_n, n_b)
            run = cuba_triton.forward if cfg.impl == "triton" else cuba_torch.forward
            s, u, v, v_last = run(xs, cols, u0c, v0c, cfg)
        else:           # numpy per-neuron arrays: cheaper calls than torch ops; the kernel tiles
            if u0 is None:
                u0c, v0c = np.zeros((n_k, n_m), np.float32), np.zeros(n_m, np.float32)
            else:
                u0c = u0.detach().permute(1, 0, 2).reshape(n_k, n_m).contiguous().numpy()
                v0c = v0.detach().reshape(n_m).contiguous().numpy()
            one = np.float32(1)
            cols = (_per_neuron(one - _f32(cd), (n_k, n_n)), _per_neuron(one - _f32(vd), (n_n,)),
                    _per_neuron(_f32(theta), (n_n,)), _per_neuron(_f32(bias), (n_n,)))
            u = torch.empty(n_t, n_k, n_m)
            v = torch.empty(n_t, n_m)
            s = spike_buffer(n_t, n_m, cfg.spiking, dev)
            v_last = torch.empty(n_m)
            run, threads = cuba_numba.kernel(f"forward_{cfg.precision}", spiking=cfg.spiking,
                                             multi=cfg.multi, subtract=cfg.subtract)
            run(xs.numpy(), *(cols if cfg.precision == "float" else cfg.ints), u0c, v0c,
                cfg.max_spikes, s.numpy(), u.numpy(), v.numpy(), v_last.numpy(),
                cuba_numba.chunk_size(n_m, threads))
        ctx.cfg, ctx.cols, ctx.states, ctx.n_b = cfg, cols, (u0c, v0c), n_b
        ctx.theta = theta.detach()
        ctx.xs = xs if cfg.precision == "xylo" else None
        ctx.set_materialize_grads(False)        # unused outputs cost nothing in backward
        ctx.save_for_backward(u, v, s)
        if cfg.spiking:
            s_view = s.view(n_t, n_b, n_n).permute(1, 2, 0)
        else:
            s_view = torch.empty(0, device=dev)
            ctx.mark_non_differentiable(s_view)
        return (s_view, u.view(n_t, n_k, n_b, n_n).permute(2, 1, 3, 0),
                v.view(n_t, n_b, n_n).permute(1, 2, 0), v_last.view(n_b, n_n))

    @staticmethod
    def backward(ctx, gs, gu, gv, g_last):
        u, v, s = ctx.saved_tensors
        cfg, n_b = ctx.cfg, ctx.n_b
        n_t, n_k, n_m = u.shape
        n_n = n_m // n_b
        slayer = type(cfg.surrogate) is sg.SlayerExp
        gs_ = _time_major(gs) if cfg.spiking else None
        gu_, gv_ = _time_major(gu), _time_major(gv)
        if g_last is not None:              # v_last carries the gradient of v[..., -1]
            gv_ = torch.zeros(n_t, n_b, n_n, device=v.device) if gv_ is None else gv_.clone()
            gv_[-1] += g_last
        # the surrogate derivative in the kernel: numba evaluates the surrogates of
        # snnpipe.models.surrogate, the torch and Triton loops SLAYER's; any other here, with
        # torch ops
        in_kernel = _numba_surrogate(cfg.surrogate) if cfg.impl == "numba" else int(slayer)
        if gs_ is not None and not in_kernel:      # as snnpipe.models.surrogate.spike, at v - theta
            th_n = torch.broadcast_to(ctx.theta.float(), (n_n,))
            gs_ = (gs_.view(n_t, n_b, n_n) * cfg.surrogate.derivative(
                v.view(n_t, n_b, n_n) - th_n, th_n)).view(n_t, n_m)
        if cfg.impl != "numba":
            th = ctx.cols[2]                # (M,)
            tau = coef = th
            if slayer:      # evaluated in the kernel, with the constants of SlayerExp.derivative
                tau = (sg.TAU_RHO_MULT * cfg.surrogate.tau_grad * th.abs()).clamp_min(1e-6)
                coef = sg.SCALE_RHO_MULT * cfg.surrogate.scale_grad / (2 * tau)
            run = cuba_triton.backward if cfg.impl == "triton" else cuba_torch.backward
            gx, ga, gb, gth, gbias = run(dict(gs=gs_, gu=gu_, gv=gv_), slayer, tau, coef, u, v,
                                         s, ctx.cols, ctx.states, cfg, ctx.xs)
            per_neuron = (ga.reshape(n_k, n_b, n_n).sum(1),) + tuple(
                g.reshape(n_b, n_n).sum(0) for g in (gb, gth, gbias))
        else:
            gx = torch.empty(n_t, n_k, n_m)
            per_neuron = (torch.empty(n_k, n_n),) + tuple(torch.empty(n_n) for _ in range(3))
            run, threads = cuba_numba.kernel(
                "backward", spiking=cfg.spiking, subtract=cfg.subtract, saturate=cfg.saturate,
                surrogate=in_kernel, input_first=ctx.xs is not None, has_gs=gs_ is not None,
                has_gu=gu_ is not None, has_gv=gv_ is not None)
            run(_NO_GRAD_2D if gs_ is None else gs_.view(n_t, n_m).numpy(),
                _NO_GRAD_3D if gu_ is None else gu_.view(n_t, n_k, n_m).numpy(),
                _NO_GRAD_2D if gv_ is None else gv_.view(n_t, n_m).numpy(),
                *_surrogate_constants(cfg.surrogate, in_kernel),
                u.numpy(), v.numpy(), s.numpy(), *ctx.states, *ctx.cols[:3],
                _NO_GRAD_3D if ctx.xs is None else ctx.xs.numpy(), *cfg.v_range,
                gx.numpy(), *(g.numpy() for g in per_neuron), cuba_numba.chunk_size(n_m, threads))
        ga, gb, gth, gbias = per_neuron       # w.r.t. a = 1 - cd, b = 1 - vd, theta, bias
        grads = tuple(None if not need else g.sum_to_size(shape) for need, g, shape in zip(
            ctx.needs_input_grad[1:5], (-ga, -gb, gth, gbias), ctx.shapes))
        return (gx.view(n_t, n_k, n_b, n_n).permute(2, 1, 3, 0), *grads, None, None, None)

"""The CUBA sequence (forward over all steps and its backward) as one fused kernel behind a
``torch.autograd.Function``.

:func:`cuba_fused` has the signature and the results of the reference sequence functions
:func:`snnpipe.models.neurons.cuba_float.cuba_float` / :func:`~snnpipe.models.neurons.cuba_loihi.cuba_loihi` /
:func:`snnpipe.models.neurons.cuba_xylo.cuba_xylo`: values are identical (loihi, xylo: bit for bit;
float: the same float32 operations in the same order) and the
gradients are those of the reference autograd (surrogate spike, straight-through roundings,
true decay derivatives, reset ignored), up to float32 summation order.

The parameters enter the kernel's Function as the precision's effective tensors (current and
voltage decay, threshold, bias in float units, as scalars or per channel: after the
quantisers' straight-through estimators and clamps, which keep their ordinary autograd); the
Function expands them per neuron (``a = 1 - current decay``, ``b = 1 - voltage decay``) and its
backward sums the per-neuron gradients back to each tensor's shape (no autograd nodes for
the broadcasting).

Layout: the kernel works on time-major buffers (T, K, B, N) / (T, B, N) (batch and neurons
as one contiguous axis of columns) and returns (B, K, N, T) / (B, N, T) *views* of them. The
blocks keep that layout end to end (the synapses compute their products time-major, the
output shift preserves strides), so no transposing copies are made between layers.

Three implementations of the same loops: the numba CPU kernel
(:mod:`snnpipe.models.kernels.cuba_numba`) for CPU tensors; Triton kernels
(:mod:`snnpipe.models.kernels.cuba_triton`, the whole time loop in one program per block of columns)
for CUDA tensors where triton is installed; and a time loop of torch elementwise ops
(:func:`_torch_forward`, :func:`_torch_backward`) on any device, the CUDA fallback without
triton (``impl="torch"`` forces it, which is how the CPU tests check it against the
reference; ``impl="triton"`` on CPU tensors runs Triton's interpreter, for tests).
All keep the reference's float32 operation order (separate multiply and add; the Triton
forward is compiled without FMA contraction).

Supported (see :func:`supports`): precisions ``float``, ``loihi`` and ``xylo``; spikes
``binary`` and ``multi``; resets ``zero`` and ``subtract`` (xylo: always subtractive, as the
chip); no refractory period; the surrogates of
:mod:`snnpipe.models.surrogate`; float32 tensors on the CPU (numba importable) or a CUDA device; an
initial state without refractory counts and without gradient. Anything else stays on the
reference functions. The surrogate derivative of SLAYER's exponential surrogate is evaluated
in the kernel; any other surrogate with a ``derivative`` method is evaluated with it (torch
ops) on the recorded voltage.
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.hwmap.targets import xylo
from snnpipe.models import surrogate as sg
from snnpipe.hwmap.targets import loihi
from snnpipe.models.neurons import cuba_xylo
from snnpipe.models.neurons.cuba_loihi import UNIT as LOIHI_UNIT, W_UNIT, loihi_ints
from snnpipe.models.neurons.state import CubaParams, CubaState

try:
    from snnpipe.models.kernels import cuba_numba
except ImportError:          # numba missing: the reference functions run instead on the CPU
    cuba_numba = None
from snnpipe.models.kernels import cuba_triton     # imports without triton (available() is False)

PRECISIONS = ("float", "loihi", "xylo")


def available() -> bool:
    """Whether the numba CPU kernel can run (numba importable)."""
    return cuba_numba is not None


def supports(x: torch.Tensor, p: CubaParams, state: CubaState | None,
             precision: str) -> bool:
    """Whether :func:`cuba_fused` computes this case (otherwise use the reference)."""
    device_ok = x.device.type == "cuda" or (x.device.type == "cpu" and available())
    if not device_ok or precision not in PRECISIONS or x.dtype != torch.float32 \
            or x.dim() != 4:
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


def _np(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


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


def _torch_columns(cd, vd, theta, bias, n_k: int, n_n: int, n_b: int):
    """The parameters as the torch-op and Triton kernels take them: ``a = 1 - cd`` (K, M),
    ``b = 1 - vd``, theta, bias (M,), float32, detached, repeated for every sample (M = B * N
    columns)."""
    a, b = 1 - cd.detach().float(), 1 - vd.detach().float()
    return (torch.broadcast_to(a, (n_k, n_n)).repeat(1, n_b),
            *(torch.broadcast_to(t.detach().float(), (n_n,)).repeat(n_b) for t in (b, theta, bias)))


def _spike_buffer(n_t: int, n_m: int, spiking: int, device) -> torch.Tensor:
    """The (T, M) spike output, rows 1.. of a (T + 1, M) buffer whose row 0 is zero: the
    block's one-step output delay (:func:`snnpipe.models.block.base.shift`) is then a view of the
    buffer instead of a copy. (1, M) when not spiking."""
    if not spiking:
        return torch.empty(1, n_m, device=device)
    buf = torch.empty(n_t + 1, n_m, device=device)
    buf[0].zero_()
    return buf[1:]


def _numba_surrogate(surrogate) -> int:
    """The numba backward's flag for ``surrogate`` (:data:`snnpipe.models.kernels.cuba_numba.
    SURROGATES`; 0: not one it evaluates, the caller multiplies gs by the derivative)."""
    kinds = {sg.SlayerExp: cuba_numba.SLAYER, sg.Sigmoid: cuba_numba.SIGMOID,
             sg.FastSigmoid: cuba_numba.FAST_SIGMOID}
    return kinds.get(type(surrogate), cuba_numba.PREMULTIPLIED)


def _surrogate_constants(surrogate, kind: int):
    """The two float32 constants of the numba backward's surrogate ``kind``
    (:data:`snnpipe.models.kernels.cuba_numba.SURROGATES`)."""
    if kind == cuba_numba.SLAYER:
        return (np.float32(sg.TAU_RHO_MULT * surrogate.tau_grad),
                np.float32(sg.SCALE_RHO_MULT * surrogate.scale_grad))
    if kind in (cuba_numba.SIGMOID, cuba_numba.FAST_SIGMOID):
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
    counts (empty when not spiking), u (B, K, N, T), v (B, N, T) pre-reset, v_last (B, N)
    post-reset voltage after the last step (its gradient is that of v[..., -1]: the reset
    passes gradients unchanged, as in the reference); s, u, v are views of time-major
    buffers (see the module docstring).
    """

    @staticmethod
    def forward(ctx, x, cd, vd, theta, bias, u0, v0, cfg: _Config):
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
            cols = _torch_columns(cd, vd, theta, bias, n_k, n_n, n_b)
            run = cuba_triton.forward if cfg.impl == "triton" else _torch_forward
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
            s = _spike_buffer(n_t, n_m, cfg.spiking, dev)
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
        # snnpipe.models.surrogate, the torch and Triton loops SLAYER's; any other here, with torch ops
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
            run = cuba_triton.backward if cfg.impl == "triton" else _torch_backward
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


def _torch_forward(x, cols, u0, v0, cfg):
    """The forward loops of :mod:`snnpipe.models.kernels.cuba_numba` as torch elementwise ops per step
    (any device). x (T, K, M); cols = (a (K, M), b, theta, bias (M,)) float units (loihi:
    cfg.ints give the integer parameters); u0 (K, M), v0 (M,). Returns s, u, v, v_last as
    the numba kernel's buffers."""
    n_t, n_k, n_m = x.shape
    dev = x.device
    u = torch.empty(n_t, n_k, n_m, device=dev)
    v = torch.empty(n_t, n_m, device=dev)
    s = _spike_buffer(n_t, n_m, cfg.spiking, dev)
    if cfg.precision == "loihi":
        i_decay, v_decay, theta_i, bias_i = (torch.as_tensor(q, device=dev) for q in cfg.ints)
        reps = n_m // theta_i.shape[-1]
        i_decay, v_decay, theta_i, bias_i = (q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)
                                             for q in (i_decay, v_decay, theta_i, bias_i))
        ui = (u0 * LOIHI_UNIT).long()
        vi = (v0 * LOIHI_UNIT).long()
        for t in range(n_t):
            ui = loihi.wrap_current(loihi.decay(ui, i_decay) + (LOIHI_UNIT * x[t]).long())
            w = loihi.voltage_step(vi, ui.sum(0), v_decay, bias_i)
            u[t] = ui / LOIHI_UNIT
            v[t] = w / LOIHI_UNIT
            if cfg.spiking:
                fired = w > theta_i
                if cfg.multi:
                    c = torch.where(fired, ((w - 1) // theta_i.clamp_min(1))
                                    .clamp(1, loihi.MAX_SPIKES), 0)
                else:
                    c = fired.long()
                if cfg.subtract:
                    vi = loihi.saturate_voltage(w - c * theta_i)
                else:
                    vi = torch.where(fired, 0, w)
                s[t] = c
            else:
                vi = w
        return s, u, v, vi / LOIHI_UNIT
    if cfg.precision == "xylo":
        return _torch_forward_xylo(x, u0, v0, s, u, v, cfg)
    a, b, theta, bias = cols
    ut, vt = u0, v0
    for t in range(n_t):
        ut = ut * a + x[t]
        vp = vt * b + ut.sum(0) + bias
        u[t] = ut
        v[t] = vp
        if cfg.spiking:
            fired = vp > theta
            if cfg.multi:
                c = torch.where(fired, (torch.ceil(vp / theta) - 1).clamp(1, loihi.MAX_SPIKES),
                                torch.zeros_like(vp))
            else:
                c = fired.to(vp.dtype)
            vt = vp - c * theta if cfg.subtract else torch.where(fired, torch.zeros_like(vp), vp)
            s[t] = c
        else:
            vt = vp
    return s, u, v, vt


def _torch_forward_xylo(x, u0, v0, s, u, v, cfg):
    """The xylo branch of :func:`_torch_forward`: the rules of :mod:`snnpipe.hwmap.targets.xylo`
    (as :func:`snnpipe.models.neurons.cuba_xylo.cuba_step_xylo`) on (K, M) / (M,) columns."""
    n_m = x.shape[2]
    unit = xylo.UNIT
    dash_syn, dash_mem, theta_i, bias_i = (torch.as_tensor(q, device=x.device) for q in cfg.ints)
    reps = n_m // theta_i.shape[-1]
    dash_syn, dash_mem, theta_i, bias_i = (q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)
                                           for q in (dash_syn, dash_mem, theta_i, bias_i))
    ii = torch.round(u0 * unit).long()
    vi = torch.round(v0 * unit).long()
    for t in range(x.shape[0]):
        ii = xylo.current_step(xylo.sat16(ii + torch.round(x[t] * unit).long()), dash_syn)
        w = xylo.membrane_step(vi, ii.sum(0), dash_mem, bias_i)
        u[t] = ii / unit
        v[t] = w / unit
        if cfg.spiking:
            c, vi = xylo.spike_count(w, theta_i, cfg.max_spikes)
            s[t] = c
        else:
            vi = w
    return s, u, v, vi / unit


def _torch_backward(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None):
    """The backward loop of :mod:`snnpipe.models.kernels.cuba_numba` as torch ops (any device); x
    (T, K, M), the input, is needed by the xylo precision only (input before decay).
    Returns gx (T, K, M), ga (K, M), gb, gth, gbias (M,)."""
    n_t, n_k, n_m = u.shape
    a, b, theta, _ = cols
    u0, v0 = states
    gs, gu, gv = grads["gs"], grads["gu"], grads["gv"]
    gs = None if gs is None else gs.reshape(n_t, n_m)
    gv = None if gv is None else gv.reshape(n_t, n_m)
    gu = None if gu is None else gu.reshape(n_t, n_k, n_m)
    gx = torch.empty_like(u)
    g_v = torch.zeros(n_m, device=u.device)
    g_u = torch.zeros(n_k, n_m, device=u.device)
    acc_a = torch.zeros(n_k, n_m, device=u.device)
    acc_b, acc_th, acc_bias = (torch.zeros(n_m, device=u.device) for _ in range(3))
    v_lo, v_hi = cfg.v_range
    for t in range(n_t - 1, -1, -1):
        if t == 0:
            vprev = v0
        else:
            vprev = v[t - 1]
            if cfg.spiking:
                c = s[t - 1]
                if cfg.subtract:
                    vq = vprev - c * theta
                    if cfg.saturate:
                        vq = vq.clamp(v_lo, v_hi)
                    vprev = torch.where(c > 0, vq, vprev)
                else:
                    vprev = torch.where(c > 0, torch.zeros_like(vprev), vprev)
        g = b * g_v
        if gv is not None:
            g = g + gv[t]
        if cfg.spiking and gs is not None:
            gsd = gs[t]
            if slayer:
                gsd = gsd * (coef * torch.exp(-(v[t] - theta).abs() / tau))
            g = g + gsd
            acc_th = acc_th - gsd
        acc_bias = acc_bias + g
        acc_b = acc_b + g * vprev
        g_v = g
        gk = g_v + a * g_u
        if gu is not None:
            gk = gk + gu[t]
        g_u = gk
        up = u0 if t == 0 else u[t - 1]
        if x is not None:                   # u_t = a (u_{t-1} + x_t)
            gx[t] = a * gk
            acc_a = acc_a + gk * (up + x[t])
        else:                               # u_t = a u_{t-1} + x_t
            gx[t] = gk
            acc_a = acc_a + gk * up
    return gx, acc_a, acc_b, acc_th, acc_bias


def _effective(p: CubaParams, precision: str, n_n: int, device=None):
    """(current decay, voltage decay, threshold, bias) as the precision's step function uses
    them (tensors with autograd, any shape that broadcasts to (K, N) / (N,); the kernel's
    wrapper expands them), and the integer parameters of the loihi and xylo precisions (numpy
    int64 (K, N) / (N,), the forward kernels' arguments)."""
    n_k = p.n_syn
    ints = None
    if precision == "xylo":
        q = cuba_xylo.xylo_ints(p)
        cd, vd, bias = q.syn_decay, q.mem_decay, q.bias / xylo.UNIT
        th = None if q.theta is None else q.theta / xylo.UNIT
        theta_i = torch.zeros(()) if q.theta is None else q.theta
        ints = (_np(torch.broadcast_to(q.dash_syn, (n_k, n_n)), np.int64),
                _np(torch.broadcast_to(q.dash_mem, (n_n,)), np.int64),
                _np(torch.broadcast_to(theta_i, (n_n,)), np.int64),
                _np(torch.broadcast_to(q.bias, (n_n,)), np.int64))
    elif precision == "loihi":
        q = loihi_ints(p)
        cd, vd, bias = q.i_decay / LOIHI_UNIT, q.v_decay / LOIHI_UNIT, q.bias / LOIHI_UNIT
        th = None if q.vth_mant is None else q.vth_mant / W_UNIT
        vth_i = torch.zeros(()) if q.vth_mant is None else q.vth_mant
        ints = (_np(torch.broadcast_to(q.i_decay, (n_k, n_n)), np.int64),
                _np(torch.broadcast_to(q.v_decay, (n_n,)), np.int64),
                _np(torch.broadcast_to(vth_i, (n_n,)), np.int64) << loihi.ACTIVATION_SHIFT,
                _np(torch.broadcast_to(q.bias, (n_n,)), np.int64))
    else:
        cd, vd, th, bias = p.current_decay, p.voltage_decay, p.threshold, p.bias
    as_t = (lambda t: t if torch.is_tensor(t) else torch.tensor(float(t), device=device))
    th = torch.zeros((), device=device) if th is None else th
    return (as_t(cd), as_t(vd), th, as_t(bias)), ints


def cuba_fused(x: torch.Tensor, p: CubaParams, state: CubaState | None = None,
               precision: str = "loihi", impl: str | None = None):
    """The CUBA sequence of ``precision`` in one kernel call; a drop-in for the reference.

    Args:
        x: (batch, n_syn, N, T) float32 weighted input, float units.
        p: parameters; ``supports(x, p, state, precision)`` must hold.
        state: initial state or None (zeros).
        impl: ``numba`` (CPU), ``triton`` (CUDA; the interpreter on CPU) or ``torch`` (the
            elementwise time loop, any device); default numba for CPU tensors, triton for
            CUDA tensors where available, torch otherwise.
    Returns:
        ``(s, u, v, state)``: s (batch, N, T) spike counts (None without threshold),
        u (batch, n_syn, N, T), v (batch, N, T) pre-reset voltage, final state; as
        :func:`snnpipe.models.neurons.cuba_float.cuba_float`.
    """
    n_b, n_k, n_n, _ = x.shape
    if impl is None:
        if x.device.type == "cpu":
            impl = "numba"
        elif cuba_triton.available() and cuba_triton.supports(x.shape[3], n_k, n_b * n_n):
            impl = "triton"
        else:
            impl = "torch"
    if state is None:
        u0 = v0 = None          # zeros, made by the kernel's wrapper
        r = torch.zeros(n_b, n_n, dtype=torch.int64, device=x.device)
    else:
        u0, v0, r = state
    params, ints = _effective(p, precision, n_n, x.device)
    cfg = _Config(p, precision, ints, impl)
    s, u, v, v_last = FusedCuba.apply(x, *params, u0, v0, cfg)
    final = CubaState(u[..., -1], v_last, r)
    return (s if cfg.spiking else None), u, v, final

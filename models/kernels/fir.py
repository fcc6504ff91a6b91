"""Causal filtering along time by the exact IIR form of the truncated exponential: the filter
of SpikeTime's order-1 loss.

``y[..., t] = sum_{k < L} exp(-k / tau) x[..., t - k]`` (zero before t = 0), the order-1
kernel of :func:`snnpipe.models.kernels.fft_fir.exp_kernel` (any kernel: :func:`fir`, by FFT,
in :mod:`.fft_fir`):

- :func:`exp_filter`, by the recursion ``y[t] = a y[t-1] + x[t] - a^L x[t-L]`` with ``a =
  exp(-1 / tau)``, in numba loops (CPU, float32/float64; other tensors fall back to
  :func:`fir`). The input gradient is the anti-causal adjoint ``z[t] = a z[t+1] + g[t] - a^L
  g[t+L]``. O(T) work per channel.
- :func:`exp_distance`, SpikeTime's order-1 loss ``sum((exp_filter(o) - exp_filter(d))^2)``
  as one IIR of the difference ``o - d`` (the filter is linear) with the squares summed in
  the same pass, and the adjoint IIR as its backward.

Layouts (x of shape (..., T), the leading axes as M = prod(...) columns). The loops run
*time-major*: the recursion over t outside, the M contiguous columns inside (independent
recursions side by side, vectorised; one column's recursion alone is a chain of dependent
operations). A time-major x (time the outermost axis in memory, ``x.movedim(-1, 0)``
contiguous, e.g. the (B, N, T) view of (T, B, N) memory that the CUBA kernels return) is
read in place and gives a time-major result; any other x (e.g. the contiguous desired
spikes) is first transposed in square tiles (:func:`_transpose`) into a time-major buffer,
and its result transposed back unless ``time_major=True`` asks for the time-major one.
Filtering blocks of contiguous rows side by side without the transpose measured 1.5-2x
slower (strided accesses over many pages).

Numerics of the IIR: the state and the coefficients are float64 (a = exp(-1/tau) and
a^L = exp(-L/tau) computed in float64, not from the float32 kernel entries); each output is
rounded to the input's dtype once. The recursion is stable (|a| < 1): its float64 rounding
stays near ``eps64 / (1 - a)`` relative and does not grow with T, so the float32 output is
the exact truncated-exponential filter correctly rounded (within 1 ulp). The FFT path filters
with the float32 kernel (each entry rounded; those roundings alone change outputs by ~2e-8 of
the maximum) and adds its own rounding. Measured at T = 2000 (4 x 200 channels of spikes,
rates 0.05 and 0.5; tau, L = 5, 100 / 2, 100 / 50, 400 / 200, 2000), max error relative to
the output's maximum against a float64 direct convolution with the exact kernel: IIR
3.5e-8 to 5.2e-8 (time-major and contiguous alike), FFT 1.6e-7 to 3.3e-7 (against the
float64 convolution with its own float32 kernel: the same). The IIR's zero-input tail
(all inputs more than L steps back) is a float64 residue of ~1e-16 of the earlier values
instead of an exact 0 (the FFT's is ~1e-7).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from snnpipe.models.kernels.fft_fir import exp_kernel, fir
from snnpipe.models.kernels.numba_options import OPTS, U

TILE = 32         # square tiles of the transposes (16: 30% slower)


# ---- the IIR of the truncated exponential ----------------------------------------------------

@njit(cache=True, **OPTS)
def _iir_time_major(x, y, a, a_len, length, reverse, gain):
    """y (T, M) = ``gain`` times the filter of x (T, M) (both C-contiguous, same dtype):
    causal ``y[t] = a y[t-1] + gain (x[t] - a_len x[t-length])``, or with ``reverse`` its
    adjoint ``y[t] = a y[t+1] + gain (x[t] - a_len x[t+length])``. State float64."""
    n_t, n_m = x.shape
    mu = U(n_m)
    xf, yf = x.reshape(-1), y.reshape(-1)
    s = np.zeros(n_m, np.float64)
    g_len = gain * a_len
    for i in range(n_t):
        t = n_t - 1 - i if reverse else i
        o = U(t) * mu
        if i < length:
            for j in range(mu):
                v = a * s[j] + gain * xf[o + j]
                s[j] = v
                yf[o + j] = v
        else:
            ol = U(t + length if reverse else t - length) * mu
            for j in range(mu):
                v = a * s[j] + gain * xf[o + j] - g_len * xf[ol + j]
                s[j] = v
                yf[o + j] = v


@njit(cache=True, **OPTS)
def _distance_squares(p, q, sign, y, a, a_len, length):
    """y (T, M) = the causal filter of :func:`_iir_time_major` (gain 1) of the difference
    ``e = sign (p - q)`` (p, q, y (T, M) C-contiguous, one dtype; y may be q itself);
    returns sum(y^2) in float64 (of the unrounded outputs, one partial sum per column).
    Each tile of ``TILE`` steps of e is formed into a ring of the last
    ``min(length, T) + TILE`` steps before its outputs are written, where the recursion
    also finds e[t - length]."""
    n_t, n_m = p.shape
    mu = U(n_m)
    n_ring = min(length, n_t) + TILE
    pf, qf, yf = p.reshape(-1), q.reshape(-1), y.reshape(-1)
    ring = np.empty(n_ring * n_m, p.dtype)
    s = np.zeros(n_m, np.float64)
    acc = np.zeros(n_m, np.float64)
    for t0 in range(0, n_t, TILE):
        nk = min(TILE, n_t - t0)
        for k in range(nk):
            o, orr = U(t0 + k) * mu, U((t0 + k) % n_ring) * mu
            for j in range(mu):
                ring[orr + j] = sign * (pf[o + j] - qf[o + j])
        for t in range(t0, t0 + nk):
            o, orr = U(t) * mu, U(t % n_ring) * mu
            if t < length:
                for j in range(mu):
                    v = a * s[j] + ring[orr + j]
                    s[j] = v
                    yf[o + j] = v
                    acc[j] += v * v
            else:
                ol = U((t - length) % n_ring) * mu
                for j in range(mu):
                    v = a * s[j] + ring[orr + j] - a_len * ring[ol + j]
                    s[j] = v
                    yf[o + j] = v
                    acc[j] += v * v
    return acc.sum()


@njit(cache=True, **OPTS)
def _transpose(x, y):
    """y (C, R) = x (R, C)^T, both C-contiguous, in square tiles of ``TILE`` (contiguous
    writes, strided reads: 20% faster than the other way round)."""
    n_r, n_c = x.shape
    ur, uc = U(n_r), U(n_c)
    xf, yf = x.reshape(-1), y.reshape(-1)
    for r0 in range(0, n_r, TILE):
        nr = U(min(TILE, n_r - r0))
        for c0 in range(0, n_c, TILE):
            nc = U(min(TILE, n_c - c0))
            for k in range(nc):
                o = (U(c0) + k) * ur + U(r0)
                for i in range(nr):
                    yf[o + i] = xf[(U(r0) + i) * uc + U(c0) + k]


def _is_time_major(x: torch.Tensor) -> bool:
    """Whether x (..., T) has its time axis outermost in memory, the rest contiguous."""
    return x.movedim(-1, 0).is_contiguous()


def _run(x: torch.Tensor, a: float, a_len: float, length: int, reverse: bool,
         time_major: bool | None = None) -> torch.Tensor:
    """The recursion on x (..., T); the result is time-major if ``time_major`` (None: if x
    is), else contiguous. A time-major x is read in place; any other is transposed into a
    time-major buffer first (one tiled pass), and a contiguous result transposed back."""
    x = x.detach()
    n_t = x.shape[-1]
    x_tm = _is_time_major(x)
    if time_major is None:
        time_major = x_tm
    shape_tm = x.movedim(-1, 0).shape
    yt = torch.empty(shape_tm, dtype=x.dtype)
    if x.numel() == 0:
        yt.zero_()
    else:
        if x_tm:
            xt = x.movedim(-1, 0)
        else:
            xt = torch.empty(shape_tm, dtype=x.dtype)
            _transpose(x.contiguous().numpy().reshape(-1, n_t), xt.numpy().reshape(n_t, -1))
        _iir_time_major(xt.numpy().reshape(n_t, -1), yt.numpy().reshape(n_t, -1),
                        a, a_len, length, reverse, 1.0)
    if time_major:
        return yt.movedim(0, -1)
    y = torch.empty(x.shape, dtype=x.dtype)
    if x.numel():
        _transpose(yt.numpy().reshape(n_t, -1), y.numpy().reshape(-1, n_t))
    return y


class _ExpFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, a_len, length, time_major):
        ctx.coeffs = (a, a_len, length)
        return _run(x, a, a_len, length, False, time_major)

    @staticmethod
    def backward(ctx, grad):
        # the gradient in the layout of the incoming one (time-major stays time-major)
        return _run(grad, *ctx.coeffs, True), None, None, None, None


def exp_coefficients(time_constant: float, length: int) -> tuple[float, float]:
    """(a, a^L) = (exp(-1 / tau), exp(-L / tau)) in float64: the IIR of the truncated
    exponential kernel ``exp(-i / tau)``, i < L."""
    return math.exp(-1.0 / float(time_constant)), math.exp(-int(length) / float(time_constant))


def exp_filter(x: torch.Tensor, time_constant: float, length: int,
               time_major: bool | None = None) -> torch.Tensor:
    """``fir(x, exp_kernel(time_constant, length, 1))`` by the IIR recursion (see the module
    docstring): ``y[..., t] = sum_{k < length} exp(-k / time_constant) x[..., t - k]``.

    Args:
        x: (..., T) float tensor, any strides (time-major memory is read in place, other
            layouts through a time-major copy).
        time_constant: tau, steps (> 0).
        length: L, steps (>= 1); the kernel is truncated there (L >= T: not at all).
        time_major: the result's memory layout: time-major (``y.movedim(-1, 0)``
            contiguous, True), contiguous (False), or x's (None: time-major if x is, else
            contiguous). A time-major result of a contiguous x costs nothing extra.
    Returns:
        (..., T). Tensors off the CPU or not float32/float64 are filtered by :func:`fir`
        with the float32 kernel (``time_major`` is then ignored).
    """
    length = int(length)
    if length < 1 or not time_constant > 0:
        raise ValueError(f"exp_filter needs time_constant > 0 and length >= 1, "
                         f"got {time_constant}, {length}")
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dim() == 0:
        return fir(x, exp_kernel(time_constant, length, 1).to(x.device))
    a, a_len = exp_coefficients(time_constant, length)
    return _ExpFilter.apply(x, a, a_len, length, time_major)


# ---- SpikeTime's distance, fused -----------------------------------------------------------

class _ExpDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, output, desired, a, a_len, length, mean):
        n_t = output.shape[-1]
        d = torch.empty((n_t, output.numel() // n_t), dtype=output.dtype)
        p, q, sign = output.detach(), desired.detach(), 1.0
        if not _is_time_major(p):
            p, q, sign = q, p, -1.0                      # the time-major one first
        if _is_time_major(p):
            p = p.movedim(-1, 0).numpy().reshape(n_t, -1)
        else:                                            # neither: transpose one
            pt = torch.empty(d.shape, dtype=p.dtype)
            _transpose(p.contiguous().numpy().reshape(-1, n_t), pt.numpy())
            p = pt.numpy()
        if _is_time_major(q):
            q = q.movedim(-1, 0).numpy().reshape(n_t, -1)
        else:              # transposed into d, which the filter then overwrites in place
            _transpose(q.contiguous().numpy().reshape(-1, n_t), d.numpy())
            q = d.numpy()
        total = _distance_squares(p, q, sign, d.numpy(), a, a_len, length)
        ctx.save_for_backward(d)
        ctx.coeffs = (a, a_len, length)
        ctx.gain = 2.0 / output.numel() if mean else 2.0
        ctx.shape_tm = output.movedim(-1, 0).shape
        return torch.tensor(total / output.numel() if mean else total, dtype=output.dtype)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        a, a_len, length = ctx.coeffs
        z = torch.empty_like(d)
        _iir_time_major(d.numpy(), z.numpy(), a, a_len, length, True,
                        ctx.gain * float(grad))
        g = z.reshape(ctx.shape_tm).movedim(0, -1)             # time-major (..., T)
        return g, (-g if ctx.needs_input_grad[1] else None), None, None, None, None


def exp_distance(output: torch.Tensor, desired: torch.Tensor, time_constant: float,
                 length: int, reduction: str = "sum") -> torch.Tensor:
    """SpikeTime's loss for the order-1 kernel: ``F.mse_loss(exp_filter(output),
    exp_filter(desired), reduction=reduction)`` (``"sum"`` or ``"mean"``) as one filter of
    the difference (the filter is linear: ``filter(o) - filter(d) = filter(o - d)``).

    Forward: a contiguous ``desired`` (against a time-major ``output``) is transposed to
    time-major memory (square tiles), then one pass (:func:`_distance_squares`) forms
    ``e = output - desired``, its IIR and the sum of squares (float64) in place of that
    buffer, which keeps the filtered difference for the backward. (One fused pass reading
    ``desired`` in tiles measured 1.8x slower.) Backward: the adjoint IIR of the kept
    difference times ``2 grad`` (``/ numel`` for mean), one pass, written time-major (the
    layout of the network's output). Fewer roundings than the separate filters: spike
    trains have exact differences, and no two rounded filter outputs cancel.

    Args:
        output, desired: (..., T) of one shape, CPU, float32 or float64 (one dtype), any
            strides; ``exp_filter`` + ``mse_loss`` is used where these do not hold, and for
            other reductions (``"none"``: the filtered squared differences, (..., T)).
    Returns:
        scalar tensor of output's dtype.
    """
    length = int(length)
    if reduction not in ("sum", "mean") or output.shape != desired.shape \
            or output.dim() == 0 or output.numel() == 0 or output.dtype != desired.dtype \
            or output.dtype not in (torch.float32, torch.float64) \
            or output.device.type != "cpu" or desired.device.type != "cpu" \
            or length < 1 or not time_constant > 0:
        fo = exp_filter(output, time_constant, length)
        fd = exp_filter(desired, time_constant, length)
        return torch.nn.functional.mse_loss(fo, fd, reduction=reduction)
    a, a_len = exp_coefficients(time_constant, length)
    return _ExpDistance.apply(output, desired, a, a_len, length, reduction == "mean")

"""Numba backward loop of the fused CUBA kernel (:func:`make_backward`, compiled per variant by
:func:`snnpipe.models.kernels.cuba_numba.kernel`) and the surrogate derivatives it evaluates.

The loop runs the adjoint of the float recursion on the recorded trajectory (straight-through
roundings, surrogate spike, reset ignored), as the reference functions' autograd does; the
layout is that of :mod:`.cuba_numba_forward` (time-major, M = B * N columns), the parameter
gradients are summed per neuron at the end. Flags (compile-time constants of a variant):
``spiking``, ``subtract`` (as the forward), ``saturate`` (integer precisions: clip the
recomputed subtractive reset to the voltage range), ``input_first`` (xylo: the input enters
the current before its decay), ``surrogate`` (the surrogate derivative evaluated in the loop,
one of :data:`SURROGATES`: ``SLAYER``, ``SIGMOID``, ``FAST_SIGMOID`` or ``PREMULTIPLIED`` (gs
carries it already)), ``has_gs``/``has_gu``/``has_gv`` (which output gradients exist).

:func:`exp_neg` / :func:`exp_flush`: float32 ``exp`` of non-positive arguments in
vectorisable operations (the surrogates' exponentials).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from snnpipe.models.kernels.cuba_numba_forward import tile_cols, tile_rows
from snnpipe.models.kernels.numba_options import OPTS, U

_EXP_C = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                       4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_LOG2E = np.float32(1.4426950408889634)


_P2_124 = np.float32(2.0 ** -124)


@njit(inline="always", **OPTS)
def exp_neg(x):
    """``exp(x)`` for float32 ``x <= 0`` in vectorisable operations without divisions
    (Cephes' expf: range reduction by ln 2, degree-6 polynomial; 2^n as a product of exact
    powers of two made by integer shifts; relative error about 1e-7; ``x < -86`` gives
    exp(-86) instead of a smaller number). libm's expf is a scalar call, which made SLAYER's
    surrogate half of the backward's time."""
    x = max(x, np.float32(-86.0))
    n = np.floor(x * _LOG2E + np.float32(0.5))              # -124 .. 0
    r = x - n * _LN2_HI - n * _LN2_LO
    c0, c1, c2, c3, c4, c5 = _EXP_C
    p = (((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5) * r * r + r + np.float32(1.0)
    h = np.floor(n * np.float32(0.5))                        # 2^n = 2^h * 2^(n - h), each
    one = np.int64(1)                                        # -62 .. 0, as 2^(62 + .) * 2^-62
    s1 = np.float32(one << np.int64(h + np.float32(62.0)))
    s2 = np.float32(one << np.int64(n - h + np.float32(62.0)))
    return p * (s1 * s2 * _P2_124)


FLUSH = np.float32(-60.0)       # exp of less is taken as 0 by the surrogates (see exp_flush)


@njit(inline="always", **OPTS)
def exp_flush(x):
    """:func:`exp_neg`, but 0 below ``exp(FLUSH)`` (8.7e-27): the surrogate derivatives of
    neurons far from threshold then are exact zeros, as torch's float32 sigmoid gives, instead
    of tiny numbers whose products with the gradients are subnormal floats (on x86 each
    subnormal operation costs about a hundred normal ones: an ipd training step ran 4 times
    slower, in this kernel and in the matmuls after it)."""
    return exp_neg(x) if x > FLUSH else np.float32(0.0)


@njit(inline="always", **OPTS)
def _slayer_constants(theta, tau_mult, scale):
    """``1 / tau`` and ``scale / (2 tau)`` of SLAYER's surrogate, ``tau = max(tau_mult |theta|,
    1e-6)`` (float32, as :class:`snnpipe.models.surrogate.SlayerExp`)."""
    m = theta.shape[0]
    itau = np.empty(m, np.float32)
    coef = np.empty(m, np.float32)
    for j in range(m):
        tau = max(tau_mult * abs(theta[j]), np.float32(1e-6))
        itau[j] = np.float32(1.0) / tau
        coef[j] = scale / (np.float32(2.0) * tau)
    return itau, coef


# surrogate derivatives the backward evaluates itself (snnpipe.models.surrogate), by flag value
PREMULTIPLIED, SLAYER, SIGMOID, FAST_SIGMOID = 0, 1, 2, 3
SURROGATES = (PREMULTIPLIED, SLAYER, SIGMOID, FAST_SIGMOID)


def make_backward(spiking, subtract, saturate, surrogate, has_gs, has_gu, has_gv, input_first):
    zero, one = np.float32(0.0), np.float32(1.0)

    def backward(gs, gu, gv, sp0, sp1, u, v, s, u0, v0, a, b, theta, x, v_lo, v_hi,
                 gx, ga, gb, gth, gbias, group):
        """Adjoint of the float recursion on the recorded trajectory: ``u_t = a u_{t-1} + x_t``
        or, with ``input_first`` (xylo), ``u_t = a (u_{t-1} + x_t)``; ``v_t = b v'_{t-1} +
        sum_k u_t + bias`` with ``v'`` the post-reset voltage (the reset passes the gradient
        unchanged): recomputed from the recorded v and s when spiking, else the recorded v
        itself (a xylo readout records V after its reset by ``STATE_MAX``, the state carried).

        gs (T, M): the spike gradient, multiplied here by the surrogate derivative at
        ``d = v - theta`` (as :mod:`snnpipe.models.surrogate`): ``SLAYER`` ``sp1 / (2 tau) *
        exp(-|d| / tau)`` with ``tau = max(sp0 |theta|, 1e-6)``; ``SIGMOID`` ``sp0 e / (1 +
        e)^2`` with ``e = exp(-|sp0 d|)`` (= slope sig (1 - sig)); ``FAST_SIGMOID`` ``1 / (sp0
        |d| + 1)^2``; ``PREMULTIPLIED``: gs carries it already. gv (T, M), gu (T, K, M):
        gradients of the recorded states (each ignored unless its ``has_*`` flag is set).
        u, v, s: the forward's outputs; x (T, K, M) the input (read with ``input_first``
        only); a (K, N), b, theta (N,) per neuron; ``saturate`` clips the recomputed
        subtractive reset to [v_lo, v_hi] (the precision's voltage range). Writes gx
        (T, K, M) and the parameter gradients per neuron, summed over the batch: ga (K, N),
        gb, gth, gbias (N,) (w.r.t. a = 1 - current decay, b = 1 - voltage decay, threshold
        and bias).
        """
        n_t, n_k, n_m = gx.shape
        gsf, guf, gvf = gs.reshape(-1), gu.reshape(-1), gv.reshape(-1)
        uf, vf, sf, gxf = u.reshape(-1), v.reshape(-1), s.reshape(-1), gx.reshape(-1)
        xf = x.reshape(-1)
        nk, nm = U(n_k), U(n_m)
        col_a = np.empty((n_k, n_m), np.float32)     # per column; summed per neuron at the end
        col_b, col_th, col_bias = (np.empty(n_m, np.float32), np.empty(n_m, np.float32),
                                   np.empty(n_m, np.float32))
        for i in prange((n_m + group - 1) // group):
            n0 = i * group
            m = min(group, n_m - n0)
            mu, n0u = U(m), U(n0)
            g_v = np.zeros(m, np.float32)              # d/d v_pre[t + 1]
            g_u = np.zeros(n_k * m, np.float32)        # d/d u_k[t + 1]
            acc_a = np.zeros(n_k * m, np.float32)
            acc_b = np.zeros(m, np.float32)
            acc_th = np.zeros(m, np.float32)
            acc_bias = np.zeros(m, np.float32)
            vprev = np.empty(m, np.float32)
            bb, ths = tile_cols(b, n0, m), tile_cols(theta, n0, m)
            itau, coef = _slayer_constants(ths, sp0, sp1)
            ak = tile_rows(a, n0, m)
            for tt in range(n_t):
                t = n_t - 1 - tt
                o = U(t) * nm + n0u
                if t == 0:
                    vprev[:] = v0[n0:n0 + m]
                else:
                    op = o - nm
                    for j in range(mu):
                        vp = vf[op + j]
                        if spiking:
                            c = sf[op + j]
                            if subtract:
                                vq = vp - c * ths[j]
                                if saturate:
                                    vq = min(max(vq, v_lo), v_hi)
                                vp = vq if c > zero else vp
                            else:
                                vp = zero if c > zero else vp
                        vprev[j] = vp
                for j in range(mu):
                    g = bb[j] * g_v[j]
                    if has_gv:
                        g += gvf[o + j]
                    if spiking and has_gs:
                        gsd = gsf[o + j]
                        if surrogate == SLAYER:
                            gsd = gsd * (coef[j] * exp_flush(-abs(vf[o + j] - ths[j]) * itau[j]))
                        elif surrogate == SIGMOID:
                            e = exp_flush(-abs(sp0 * (vf[o + j] - ths[j])))
                            gsd = gsd * (sp0 * e / ((one + e) * (one + e)))
                        elif surrogate == FAST_SIGMOID:
                            d = sp0 * abs(vf[o + j] - ths[j]) + one
                            gsd = gsd * (one / (d * d))
                        g += gsd
                        acc_th[j] -= gsd
                    acc_bias[j] += g
                    acc_b[j] += g * vprev[j]
                    g_v[j] = g
                for k in range(nk):
                    ok = (U(t) * nk + k) * nm + n0u
                    km = k * mu
                    for j in range(mu):
                        gk = g_v[j] + ak[km + j] * g_u[km + j]
                        if has_gu:
                            gk += guf[ok + j]
                        gxf[ok + j] = ak[km + j] * gk if input_first else gk
                        g_u[km + j] = gk
                    if t == 0:
                        for j in range(m):
                            up = u0[k, n0 + j]
                            if input_first:
                                up += xf[ok + j]
                            acc_a[k * m + j] += g_u[k * m + j] * up
                    else:
                        okp = ok - nk * nm
                        for j in range(mu):
                            up = uf[okp + j]
                            if input_first:
                                up += xf[ok + j]
                            acc_a[km + j] += g_u[km + j] * up
            col_b[n0:n0 + m] = acc_b
            col_th[n0:n0 + m] = acc_th
            col_bias[n0:n0 + m] = acc_bias
            for k in range(n_k):
                col_a[k, n0:n0 + m] = acc_a[k * m:(k + 1) * m]
        n_n = b.shape[0]
        ga[:] = 0
        gb[:] = 0
        gth[:] = 0
        gbias[:] = 0
        for c in range(n_m):
            j = c % n_n
            gb[j] += col_b[c]
            gth[j] += col_th[c]
            gbias[j] += col_bias[c]
            for k in range(n_k):
                ga[k, j] += col_a[k, c]
    return backward

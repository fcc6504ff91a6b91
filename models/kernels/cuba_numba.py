"""Numba CPU loops of the fused CUBA kernel: the whole time loop of a chunk of ``GROUP``
neurons per iteration, parallel over batch * chunks (``prange``). Time is the outer loop and
the neurons of the chunk the inner, contiguous one, so that the independent recursions of the
neurons overlap and vectorise (the time recursion of one neuron alone is a chain of dependent
operations). States live in small per-chunk arrays; outputs are preallocated (nothing is
allocated per step).

Array layout, time-major (all C-contiguous): input ``x`` (B, T, K, N) float32 (K = n_syn
synaptic currents), outputs ``u`` (B, T, K, N), ``s``, ``v`` (B, T, N); states ``u0``
(B, K, N), ``v0`` (B, N) float32 (float units; in the loihi precision exact multiples of
1/4096). Per-neuron parameters are expanded to (K, N) or (N,).

Forward loops (:func:`forward_float`, :func:`forward_loihi`) implement exactly the step
functions of :mod:`models.neurons.cuba` (same float32 operation order; int64 Loihi rules of
:mod:`hwmap.targets.loihi`). :func:`backward` runs the adjoint of the float recursion on the
recorded trajectory (straight-through roundings, surrogate spike, reset ignored), as the
reference functions' autograd does.

Flags (int): ``spiking`` (threshold given), ``multi`` (spike counts up to ``max_spikes``,
else binary), ``subtract`` (subtractive reset, else reset to zero).

Threads: each loop is compiled twice, serial and parallel; :func:`kernel` picks one from
``$SNNPIPE_KERNEL_THREADS`` (default 1: the serial loop, numba's thread pool is never started;
0: all of numba's threads). On the shared 2-core development machine a started pool of two
numba workers next to torch's OpenMP pool made a training step 10-15 times slower (spinning
OpenMP workers), and with ``OMP_WAIT_POLICY=PASSIVE`` two threads were no faster than one.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

from hwmap.targets import loihi

GROUP = 64                    # neurons per work item (the inner loop)
UNIT = np.float32(loihi.DECAY_UNIT)
INV_UNIT = np.float32(1.0 / loihi.DECAY_UNIT)
DECAY_BITS = loihi.DECAY_BITS
DECAY_UNIT = loihi.DECAY_UNIT
ROUND_UP = loihi.DECAY_UNIT - 1
U_HALF = loihi.U_HALF
U_WRAP = loihi.U_WRAP
V_MAX = loihi.V_MAX
V_MAX_F = np.float32(loihi.V_MAX / loihi.DECAY_UNIT)
THREADS_ENV = "SNNPIPE_KERNEL_THREADS"


def set_threads() -> int:
    """Set numba's thread count for the calling thread from ``$SNNPIPE_KERNEL_THREADS``
    (default 1, 0 = all of numba's threads); returns it."""
    limit = numba.config.NUMBA_NUM_THREADS
    n = int(os.environ.get(THREADS_ENV, "1"))
    n = limit if n <= 0 else min(n, limit)
    if n > 1:
        numba.set_num_threads(n)
    return n


def kernel(name: str):
    """The compiled loop ``name`` (``forward_float``, ``forward_loihi``, ``backward``):
    parallel when :func:`set_threads` asks for more than one thread, else serial."""
    parallel, serial = _COMPILED[name]
    return parallel if set_threads() > 1 else serial


def forward_float(x, a, b, theta, bias, u0, v0, spiking, multi, subtract, max_spikes,
                  s, u, v, v_last):
    """Float CUBA over T steps. a (K, N) = 1 - current_decay, b (N,) = 1 - voltage_decay,
    theta, bias (N,). Writes s (B, T, N) counts, u (B, T, K, N), v (B, T, N) pre-reset,
    v_last (B, N) final post-reset voltage."""
    n_b, n_t, n_k, n_n = x.shape
    n_g = (n_n + GROUP - 1) // GROUP
    cap, one, zero = np.float32(max_spikes), np.float32(1.0), np.float32(0.0)
    for i in prange(n_b * n_g):
        bi = i // n_g
        n0 = (i - bi * n_g) * GROUP
        m = min(GROUP, n_n - n0)
        n1 = n0 + m
        bb, bs, ths = b[n0:n1], bias[n0:n1], theta[n0:n1]
        uk = np.empty((n_k, GROUP), np.float32)
        vv = np.empty(GROUP, np.float32)
        acc = np.empty(GROUP, np.float32)
        for j in range(m):
            vv[j] = v0[bi, n0 + j]
            for k in range(n_k):
                uk[k, j] = u0[bi, k, n0 + j]
        for t in range(n_t):
            for j in range(m):
                acc[j] = zero
            for k in range(n_k):
                uk_, ak, xk, out = uk[k], a[k, n0:n1], x[bi, t, k, n0:n1], u[bi, t, k, n0:n1]
                for j in range(m):
                    val = uk_[j] * ak[j] + xk[j]
                    uk_[j] = val
                    out[j] = val
                    acc[j] += val
            vt, st = v[bi, t, n0:n1], s[bi, min(t, s.shape[1] - 1), n0:n1]
            for j in range(m):                 # branch-free, so that it vectorises
                vp = vv[j] * bb[j] + acc[j] + bs[j]
                vt[j] = vp
                th = ths[j]
                fired = vp > th
                c = one if fired else zero
                if multi:
                    c = min(max(np.float32(np.ceil(vp / th)) - one, one), cap) if fired else zero
                if subtract:
                    vpost = vp - c * th
                else:
                    vpost = zero if fired else vp
                vv[j] = vpost if spiking else vp
                if spiking:
                    st[j] = c
        for j in range(m):
            v_last[bi, n0 + j] = vv[j]


def forward_loihi(x, i_decay, v_decay, theta_i, bias_i, u0, v0, spiking, multi, subtract,
                  max_spikes, s, u, v, v_last):
    """Loihi integer CUBA over T steps (DESIGN 5.1/5.4). i_decay (K, N), v_decay (N,) in
    1/4096; theta_i, bias_i (N,) int64 in state units (mantissa << 6). Outputs as
    :func:`forward_float`, states as exact float32 (integer / 4096)."""
    n_b, n_t, n_k, n_n = x.shape
    n_g = (n_n + GROUP - 1) // GROUP
    for i in prange(n_b * n_g):
        bi = i // n_g
        n0 = (i - bi * n_g) * GROUP
        m = min(GROUP, n_n - n0)
        ui = np.empty((n_k, GROUP), np.int64)          # integer currents
        keep = np.empty((n_k, GROUP), np.int64)        # 4096 - i_decay
        vi = np.empty(GROUP, np.int64)
        acc = np.empty(GROUP, np.int64)
        for j in range(m):
            vi[j] = np.int64(v0[bi, n0 + j] * UNIT)
            for k in range(n_k):
                ui[k, j] = np.int64(u0[bi, k, n0 + j] * UNIT)
                keep[k, j] = DECAY_UNIT - i_decay[k, n0 + j]
        for t in range(n_t):
            for j in range(m):
                acc[j] = 0
            for k in range(n_k):
                for j in range(m):
                    p = ui[k, j] * keep[k, j]
                    p += ROUND_UP if p < 0 else 0
                    uk = (p >> DECAY_BITS) + np.int64(x[bi, t, k, n0 + j] * UNIT)
                    uk += (-U_WRAP if uk > U_HALF else 0) + (U_WRAP if uk <= -U_HALF else 0)
                    ui[k, j] = uk
                    u[bi, t, k, n0 + j] = np.float32(uk) * INV_UNIT
                    acc[j] += uk
            for j in range(m):                 # branch-free, so that it vectorises
                n = n0 + j
                p = vi[j] * (DECAY_UNIT - v_decay[n])
                p += ROUND_UP if p < 0 else 0
                w = min(max((p >> DECAY_BITS) + acc[j] + bias_i[n], -V_MAX), V_MAX)
                v[bi, t, n] = np.float32(w) * INV_UNIT
                th = theta_i[n]
                fired = w > th
                c = 1 if fired else 0
                if multi:
                    c = min(max((w - 1) // max(th, 1), 1), max_spikes) if fired else 0
                if subtract:
                    wpost = min(max(w - c * th, -V_MAX), V_MAX)
                else:
                    wpost = 0 if fired else w
                vi[j] = wpost if spiking else w
                if spiking:
                    s[bi, t, n] = np.float32(c)
        for j in range(m):
            v_last[bi, n0 + j] = np.float32(vi[j]) * INV_UNIT


def backward(gs, gu, gv, has_gs, has_gu, has_gv, slayer, sg_tau, sg_coef, u, v, s, u0, v0,
             a, b, theta, spiking, subtract, saturate, gx, ga, gb, gth, gbias):
    """Adjoint of the float recursion on the recorded trajectory.

    gs (B, T, N): the spike gradient, already multiplied by the surrogate derivative unless
    ``slayer``, in which case SLAYER's ``sg_coef * exp(-|v - theta| / sg_tau)`` ((N,) each)
    is applied here; gv (B, T, N), gu (B, T, K, N): gradients of the recorded states (each
    ignored where ``has_*`` is 0). u, v, s: the forward's outputs; ``saturate`` clips the
    recomputed subtractive reset to the 24-bit register (loihi). Writes gx (B, T, K, N) and
    per-sample parameter gradients ga (B, K, N), gb, gth, gbias (B, N) (w.r.t. a = 1 - current
    decay, b = 1 - voltage decay, threshold and bias).
    """
    n_b, n_t, n_k, n_n = gx.shape
    n_g = (n_n + GROUP - 1) // GROUP
    zero = np.float32(0.0)
    for i in prange(n_b * n_g):
        bi = i // n_g
        n0 = (i - bi * n_g) * GROUP
        m = min(GROUP, n_n - n0)
        g_v = np.zeros(GROUP, np.float32)              # d/d v_pre[t + 1]
        g_u = np.zeros((n_k, GROUP), np.float32)       # d/d u_k[t + 1]
        acc_a = np.zeros((n_k, GROUP), np.float32)
        acc_b = np.zeros(GROUP, np.float32)
        acc_th = np.zeros(GROUP, np.float32)
        acc_bias = np.zeros(GROUP, np.float32)
        for t in range(n_t - 1, -1, -1):
            for j in range(m):
                n = n0 + j
                th = theta[n]
                g = b[n] * g_v[j]
                if has_gv:
                    g += gv[bi, t, n]
                if spiking and has_gs:
                    gsd = gs[bi, t, n]
                    if slayer:
                        gsd = gsd * (sg_coef[n] * np.exp(-abs(v[bi, t, n] - th) / sg_tau[n]))
                    g += gsd
                    acc_th[j] -= gsd
                acc_bias[j] += g
                if t == 0:
                    vprev = v0[bi, n]
                else:
                    vprev = v[bi, t - 1, n]
                    if spiking:
                        c = s[bi, t - 1, n]
                        if c > zero:
                            if subtract:
                                vprev = vprev - c * th
                                if saturate:
                                    vprev = min(max(vprev, -V_MAX_F), V_MAX_F)
                            else:
                                vprev = zero
                acc_b[j] += g * vprev
                g_v[j] = g
            for k in range(n_k):
                for j in range(m):
                    n = n0 + j
                    gk = g_v[j] + a[k, n] * g_u[k, j]
                    if has_gu:
                        gk += gu[bi, t, k, n]
                    gx[bi, t, k, n] = gk
                    up = u0[bi, k, n] if t == 0 else u[bi, t - 1, k, n]
                    acc_a[k, j] += gk * up
                    g_u[k, j] = gk
        for j in range(m):
            n = n0 + j
            gb[bi, n], gth[bi, n], gbias[bi, n] = acc_b[j], acc_th[j], acc_bias[j]
            for k in range(n_k):
                ga[bi, k, n] = acc_a[k, j]


# (parallel, serial); only the serial loops are cached on disk (one cache entry per function)
_COMPILED = {f.__name__: (njit(parallel=True, nogil=True)(f), njit(cache=True, nogil=True)(f))
             for f in (forward_float, forward_loihi, backward)}

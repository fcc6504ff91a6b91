"""Numba CPU loops of the fused CUBA kernel: the whole time loop of a chunk of columns per
iteration, parallel over the chunks (``prange``). Chunks are ``MAX_CHUNK`` columns (4 KiB
rows of float32) or an aligned share per thread: with 256-column chunks of 2048 columns every
step's row was a new 4 KiB page, which the hardware prefetcher does not cross, and the forward
ran two to three times slower; whole 2048-column rows pushed the backward's per-chunk state
out of L1. Time is the outer loop and the
columns of the chunk the inner, contiguous one, so that the independent recursions overlap
and vectorise (the time recursion of one neuron alone is a chain of dependent operations).
States live in small per-chunk arrays; outputs are preallocated (nothing is allocated per
step).

Array layout, time-major with batch and neurons as one axis of ``M = B * N`` columns (all
C-contiguous): input ``x`` (T, K, M) float32 (K = n_syn synaptic currents), outputs ``u``
(T, K, M), ``s``, ``v`` (T, M); states ``u0`` (K, M), ``v0`` (M,) float32 (float units; in
the loihi precision exact multiples of 1/4096, in the xylo one of 1/1024); parameters per
neuron, (K, N) or (N,), tiled over the columns of a chunk when it starts. With
batch inside the contiguous axis a small layer (SynNet: 24 neurons, batch 8) still runs
long vectorised loops. The loops index flattened views with unsigned offsets, which LLVM
vectorises; the mode flags (spiking, multi-spike, subtractive reset, which gradients exist,
...) are compile-time constants of one compiled variant each (:func:`kernel` compiles a
variant on its first use), so that the inner loops carry no branches on them (runtime flags
made the loops about twice slower).

Forward loops (``forward_float``, ``forward_loihi``) implement exactly the step functions of
:mod:`snnpipe.models.neurons` (same float32 operation order; int64 Loihi rules of
:mod:`snnpipe.hwmap.targets.loihi`). ``backward`` runs the adjoint of the float recursion on the
recorded trajectory (straight-through roundings, surrogate spike, reset ignored), as the
reference functions' autograd does.

Flags: ``spiking`` (threshold given), ``multi`` (spike counts up to ``max_spikes``, else
binary), ``subtract`` (subtractive reset, else reset to zero); backward also ``saturate``
(integer precisions: clip the recomputed subtractive reset to the voltage range), ``input_first``
(xylo: the input enters the current before its decay), ``surrogate`` (the surrogate
derivative evaluated in the loop, one of :data:`SURROGATES`: ``SLAYER``, ``SIGMOID``,
``FAST_SIGMOID`` or ``PREMULTIPLIED`` (gs carries it already)), ``has_gs``/``has_gu``/
``has_gv`` (which output gradients exist).

Threads: each variant is compiled serial or parallel; :func:`kernel` picks one from
``$SNNPIPE_KERNEL_THREADS`` (default 1: the serial loop, numba's thread pool is never started;
0: all of numba's threads). On the shared 2-core development machine a started pool of two
numba workers next to torch's OpenMP pool made a training step 10-15 times slower (spinning
OpenMP workers), and with ``OMP_WAIT_POLICY=PASSIVE`` two threads were no faster than one.
"""
from __future__ import annotations

import functools
import os

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import njit, prange

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.hwmap.targets.xylo import UNIT as XYLO_UNIT

ALIGN = 16                    # chunk sizes of the parallel loops: multiples of 16 columns
MAX_CHUNK = 1024              # columns per work item at most
UNIT = np.float32(loihi.DECAY_UNIT)
INV_UNIT = np.float32(1.0 / loihi.DECAY_UNIT)
DECAY_BITS = loihi.DECAY_BITS
DECAY_UNIT = loihi.DECAY_UNIT
ROUND_UP = loihi.DECAY_UNIT - 1
U_HALF = loihi.U_HALF
U_WRAP = loihi.U_WRAP
V_MAX = loihi.V_MAX
THREADS_ENV = "SNNPIPE_KERNEL_THREADS"
# LLVM vectorises a loop over several arrays only after runtime checks that they do not overlap;
# its default budget (8 pointer pairs) is below what these loops touch, which left them scalar
# (3-8x slower). The option is process-wide and only widens that budget.
try:
    llvm.set_option("snnpipe", "-runtime-memory-check-threshold=128")
except Exception:       # pragma: no cover - an LLVM without the option: scalar loops
    pass
_OPTS = dict(nogil=True, boundscheck=False, error_model="numpy")


def set_threads() -> int:
    """Set numba's thread count for the calling thread from ``$SNNPIPE_KERNEL_THREADS``
    (default 1, 0 = all of numba's threads); returns it."""
    limit = numba.config.NUMBA_NUM_THREADS
    n = int(os.environ.get(THREADS_ENV, "1"))
    n = limit if n <= 0 else min(n, limit)
    if n > 1:
        numba.set_num_threads(n)
    return n


def kernel(name: str, **flags):
    """The compiled loop ``name`` (``forward_float``, ``forward_loihi``, ``forward_xylo``,
    ``backward``) for
    the given flags (ints, see the module docstring) and its chunk size function: parallel
    when :func:`set_threads` asks for more than one thread, else serial. Call as
    ``run(*arrays, group)`` with ``group = chunk_size(M, threads)``; returns
    ``(run, threads)``."""
    if os.environ.get(THREADS_ENV, "1") == "1":     # the default: a dict lookup per call
        fast = (name, *flags.items())
        run = _SERIAL.get(fast)
        if run is None:
            run = _SERIAL[fast] = _compiled(name, tuple(sorted(
                (k, int(v)) for k, v in flags.items())), False)
        return run, 1
    key = tuple(sorted((k, int(v)) for k, v in flags.items()))
    threads = set_threads()
    return _compiled(name, key, threads > 1), threads


_SERIAL = {}        # (name, *flag items as passed) -> serial variant


@functools.lru_cache(maxsize=None)
def _compiled(name, key, parallel):
    make = {"forward_float": _make_forward_float, "forward_loihi": _make_forward_loihi,
            "forward_xylo": _make_forward_xylo, "backward": _make_backward}[name]
    # the serial variants are cached on disk (numba keys a closure's entry by its flag values)
    return njit(parallel=parallel, cache=not parallel, **_OPTS)(make(**dict(key)))


U = np.uint64       # unsigned indices: numba adds no negative-index wraparound, so LLVM
                    # sees affine addresses and vectorises (signed indices: 3x slower)


def chunk_size(n_m: int, threads: int) -> int:
    """Columns per work item: ``MAX_CHUNK`` for one thread, else an aligned share each (at
    most ``MAX_CHUNK``)."""
    share = -(-n_m // max(threads, 1))
    return max(1, min(MAX_CHUNK, n_m if threads <= 1 else -(-share // ALIGN) * ALIGN))


@njit(inline="always", **_OPTS)
def _cols(q, n0, m):
    """Per-neuron parameters (N,) for the columns n0 .. n0 + m of M = B * N (column c is
    neuron c % N): the kernels take parameters per neuron and tile them per chunk."""
    n = q.shape[0]
    out = np.empty(m, q.dtype)
    for j in range(m):
        out[j] = q[(n0 + j) % n]
    return out


@njit(inline="always", **_OPTS)
def _rows(q, n0, m):
    """:func:`_cols` for (K, N) parameters: a flat (K * m,) array, row k at k * m."""
    n_k, n = q.shape
    out = np.empty(n_k * m, q.dtype)
    for k in range(n_k):
        for j in range(m):
            out[k * m + j] = q[k, (n0 + j) % n]
    return out


def _make_forward_float(spiking, multi, subtract):
    one, zero = np.float32(1.0), np.float32(0.0)

    def forward_float(x, a, b, theta, bias, u0, v0, max_spikes, s, u, v, v_last, group):
        """Float CUBA over T steps. x (T, K, M); a (K, N) = 1 - current_decay, b (N,) =
        1 - voltage_decay, theta, bias (N,) per neuron; u0 (K, M), v0 (M,) per column.
        Writes s (T, M) counts,
        u (T, K, M), v (T, M) pre-reset, v_last (M,) final post-reset voltage."""
        n_t, n_k, n_m = x.shape
        cap = np.float32(max_spikes)
        xf, uf, vf, sf = x.reshape(-1), u.reshape(-1), v.reshape(-1), s.reshape(-1)
        nk, nm = U(n_k), U(n_m)
        for i in prange((n_m + group - 1) // group):
            n0 = i * group
            m = min(group, n_m - n0)
            mu, n0u = U(m), U(n0)
            uk = np.empty(n_k * m, np.float32)
            ak = _rows(a, n0, m)
            vv = v0[n0:n0 + m].copy()
            acc = np.empty(m, np.float32)
            bb, bs, ths = _cols(b, n0, m), _cols(bias, n0, m), _cols(theta, n0, m)
            for k in range(n_k):
                uk[k * m:(k + 1) * m] = u0[k, n0:n0 + m]
            for t in range(n_t):
                o = U(t) * nm + n0u
                if n_k == 1:
                    for j in range(mu):
                        val = uk[j] * ak[j] + xf[o + j]
                        uk[j] = val
                        uf[o + j] = val
                        acc[j] = val
                else:
                    for j in range(mu):
                        acc[j] = zero
                    for k in range(nk):
                        ok = (U(t) * nk + k) * nm + n0u
                        km = k * mu
                        for j in range(mu):
                            val = uk[km + j] * ak[km + j] + xf[ok + j]
                            uk[km + j] = val
                            uf[ok + j] = val
                            acc[j] += val
                for j in range(mu):
                    vp = vv[j] * bb[j] + acc[j] + bs[j]
                    vf[o + j] = vp
                    if spiking:
                        th = ths[j]
                        fired = vp > th
                        if multi:
                            c = min(max(np.float32(np.ceil(vp / th)) - one, one), cap) \
                                if fired else zero
                        else:
                            c = one if fired else zero
                        if subtract:
                            vv[j] = vp - c * th
                        else:
                            vv[j] = zero if fired else vp
                        sf[o + j] = c
                    else:
                        vv[j] = vp
            v_last[n0:n0 + m] = vv
    return forward_float


def _make_forward_loihi(spiking, multi, subtract):
    def forward_loihi(x, i_decay, v_decay, theta_i, bias_i, u0, v0, max_spikes, s, u, v,
                      v_last, group):
        """Loihi integer CUBA over T steps (DESIGN 5.1/5.4). i_decay (K, N), v_decay (N,) in
        1/4096; theta_i, bias_i (N,) int64 in state units (mantissa << 6). Shapes and
        outputs as ``forward_float``, states as exact float32 (integer / 4096)."""
        n_t, n_k, n_m = x.shape
        xf, uf, vf, sf = x.reshape(-1), u.reshape(-1), v.reshape(-1), s.reshape(-1)
        nk, nm = U(n_k), U(n_m)
        for i in prange((n_m + group - 1) // group):
            n0 = i * group
            m = min(group, n_m - n0)
            mu, n0u = U(m), U(n0)
            ui = np.empty(n_k * m, np.int64)          # integer currents
            vi = np.empty(m, np.int64)
            acc = np.empty(m, np.int64)
            vkeep = DECAY_UNIT - _cols(v_decay, n0, m)
            ths, bs = _cols(theta_i, n0, m), _cols(bias_i, n0, m)
            keep = DECAY_UNIT - _rows(i_decay, n0, m)
            for j in range(m):
                vi[j] = np.int64(v0[n0 + j] * UNIT)
                for k in range(n_k):
                    ui[k * m + j] = np.int64(u0[k, n0 + j] * UNIT)
            for t in range(n_t):
                o = U(t) * nm + n0u
                for j in range(mu):
                    acc[j] = 0
                for k in range(nk):
                    ok = (U(t) * nk + k) * nm + n0u
                    km = k * mu
                    for j in range(mu):
                        p = ui[km + j] * keep[km + j]
                        p += ROUND_UP if p < 0 else 0
                        uk = (p >> DECAY_BITS) + np.int64(xf[ok + j] * UNIT)
                        uk += (-U_WRAP if uk > U_HALF else 0) + (U_WRAP if uk <= -U_HALF else 0)
                        ui[km + j] = uk
                        uf[ok + j] = np.float32(uk) * INV_UNIT
                        acc[j] += uk
                for j in range(mu):
                    p = vi[j] * vkeep[j]
                    p += ROUND_UP if p < 0 else 0
                    w = min(max((p >> DECAY_BITS) + acc[j] + bs[j], -V_MAX), V_MAX)
                    vf[o + j] = np.float32(w) * INV_UNIT
                    if spiking:
                        th = ths[j]
                        fired = w > th
                        if multi:
                            c = min(max((w - 1) // max(th, 1), 1), max_spikes) if fired else 0
                        else:
                            c = 1 if fired else 0
                        if subtract:
                            vi[j] = min(max(w - c * th, -V_MAX), V_MAX)
                        else:
                            vi[j] = 0 if fired else w
                        sf[o + j] = np.float32(c)
                    else:
                        vi[j] = w
            for j in range(m):
                v_last[n0 + j] = np.float32(vi[j]) * INV_UNIT
    return forward_loihi


def _make_forward_xylo(spiking, multi, subtract):
    s_min, s_max = np.int64(xylo.STATE_MIN), np.int64(xylo.STATE_MAX)
    unit = np.float32(XYLO_UNIT)
    inv = np.float32(1.0 / XYLO_UNIT)

    def forward_xylo(x, dash_syn, dash_mem, theta_i, bias_i, u0, v0, max_spikes, s, u, v,
                     v_last, group):
        """Xylo Audio 2 integer CUBA over T steps (:func:`snnpipe.models.neurons.cuba_xylo.
        cuba_step_xylo`, DESIGN 6.2): input first (``I = sat16(I + rint(1024 x))``), then
        ``I -= decay(I, dash)``; membrane as :func:`snnpipe.hwmap.targets.xylo.membrane_step`; spike
        counts up to ``max_spikes`` (the cap), subtractive reset always. dash_syn (K, N),
        dash_mem (N,) int64 shifts; theta_i, bias_i (N,) int64 in 1/1024. Shapes and outputs
        as ``forward_float``, states as exact float32 (integer / 1024). ``multi`` and
        ``subtract`` are unused (the cap says it all; the chip only subtracts)."""
        n_t, n_k, n_m = x.shape
        xf, uf, vf, sf = x.reshape(-1), u.reshape(-1), v.reshape(-1), s.reshape(-1)
        nk, nm = U(n_k), U(n_m)
        for i in prange((n_m + group - 1) // group):
            n0 = i * group
            m = min(group, n_m - n0)
            mu, n0u = U(m), U(n0)
            ui = np.empty(n_k * m, np.int64)
            vi = np.empty(m, np.int64)
            acc = np.empty(m, np.int64)
            dm, ds = _cols(dash_mem, n0, m), _rows(dash_syn, n0, m)
            ths, bs = _cols(theta_i, n0, m), _cols(bias_i, n0, m)
            for j in range(m):
                vi[j] = np.int64(np.rint(v0[n0 + j] * unit))
                for k in range(n_k):
                    ui[k * m + j] = np.int64(np.rint(u0[k, n0 + j] * unit))
            for t in range(n_t):
                o = U(t) * nm + n0u
                for j in range(mu):
                    acc[j] = 0
                for k in range(nk):
                    ok = (U(t) * nk + k) * nm + n0u
                    km = k * mu
                    for j in range(mu):
                        c = min(max(ui[km + j] + np.int64(np.rint(xf[ok + j] * unit)), s_min),
                                s_max)
                        d = c >> ds[km + j]
                        c -= d + (1 if (d == 0 and c > 0) else 0)
                        ui[km + j] = c
                        uf[ok + j] = np.float32(c) * inv
                        acc[j] += c
                for j in range(mu):
                    w = vi[j]
                    d = w >> dm[j]
                    d += 1 if (d == 0 and w > 0) else 0
                    dv = min(max(((-d - s_min) & 0xFFFF) + s_min + acc[j], s_min), s_max)
                    dv = min(max(dv + bs[j], s_min), s_max)
                    w = min(max(w + dv, s_min), s_max)
                    vf[o + j] = np.float32(w) * inv
                    if spiking:
                        th = ths[j]
                        if th > 0:
                            c = min(max(w // th, 0), max_spikes)
                        else:
                            c = max_spikes if w >= th else 0
                        vi[j] = min(max(w - c * th, s_min), s_max)
                        sf[o + j] = np.float32(c)
                    else:
                        vi[j] = w
            for j in range(m):
                v_last[n0 + j] = np.float32(vi[j]) * inv
    return forward_xylo


_EXP_C = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                       4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_LOG2E = np.float32(1.4426950408889634)


_P2_124 = np.float32(2.0 ** -124)


@njit(inline="always", **_OPTS)
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


@njit(inline="always", **_OPTS)
def exp_flush(x):
    """:func:`exp_neg`, but 0 below ``exp(FLUSH)`` (8.7e-27): the surrogate derivatives of
    neurons far from threshold then are exact zeros, as torch's float32 sigmoid gives, instead
    of tiny numbers whose products with the gradients are subnormal floats (on x86 each
    subnormal operation costs about a hundred normal ones: an ipd training step ran 4 times
    slower, in this kernel and in the matmuls after it)."""
    return exp_neg(x) if x > FLUSH else np.float32(0.0)


@njit(inline="always", **_OPTS)
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


def _make_backward(spiking, subtract, saturate, surrogate, has_gs, has_gu, has_gv, input_first):
    zero, one = np.float32(0.0), np.float32(1.0)

    def backward(gs, gu, gv, sp0, sp1, u, v, s, u0, v0, a, b, theta, x, v_lo, v_hi,
                 gx, ga, gb, gth, gbias, group):
        """Adjoint of the float recursion on the recorded trajectory: ``u_t = a u_{t-1} + x_t``
        or, with ``input_first`` (xylo), ``u_t = a (u_{t-1} + x_t)``; ``v_t = b v'_{t-1} +
        sum_k u_t + bias`` with ``v'`` the post-reset voltage (the reset passes the gradient
        unchanged).

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
            bb, ths = _cols(b, n0, m), _cols(theta, n0, m)
            itau, coef = _slayer_constants(ths, sp0, sp1)
            ak = _rows(a, n0, m)
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

"""Numba forward loops of the fused CUBA kernel: factories of the float, loihi and xylo time
loops (:func:`make_forward_float`, :func:`make_forward_loihi`, :func:`make_forward_xylo`),
each compiled per variant by :func:`snnpipe.models.kernels.cuba_numba.kernel`, and the
per-chunk parameter tiling (:func:`tile_cols`, :func:`tile_rows`) that the backward loop
shares.

The loops implement exactly the step functions of :mod:`snnpipe.models.neurons` (same
float32 operation order; the integer rules of :mod:`snnpipe.hwmap.targets.loihi` in int64,
those of :mod:`snnpipe.hwmap.targets.xylo`). Layout (time-major, M = B * N columns, all
C-contiguous): input ``x`` (T, K, M) float32; outputs ``s``, ``v`` (T, M) (v pre-reset; xylo
without threshold: after the readout's reset, see :func:`make_forward_xylo`), ``u`` (T, K, M),
``v_last`` (M,); initial states ``u0`` (K, M), ``v0`` (M,) float32 in float units (loihi:
exact multiples of 1 / ``loihi.DECAY_UNIT``, xylo: of 1 / ``xylo.UNIT``); parameters per
neuron, (K, N) or (N,), tiled over the columns of a chunk when it starts. Flags (compile-time
constants of a variant): ``spiking`` (threshold given), ``multi`` (spike counts up to
``max_spikes``, else binary), ``subtract`` (subtractive reset, else reset to zero).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models.kernels.numba_options import OPTS, U

UNIT = np.float32(loihi.DECAY_UNIT)
INV_UNIT = np.float32(1.0 / loihi.DECAY_UNIT)
DECAY_BITS = loihi.DECAY_BITS
DECAY_UNIT = loihi.DECAY_UNIT
ROUND_UP = loihi.DECAY_UNIT - 1
U_HALF = loihi.U_HALF
U_WRAP = loihi.U_WRAP
V_MAX = loihi.V_MAX
XYLO_UNIT = xylo.UNIT
XYLO_MASK = (1 << xylo.STATE_BITS) - 1     # the 16-bit wrap of xylo.wrap16
# spikes of a xylo readout (no threshold: an output neuron whose threshold is STATE_MAX) in a
# step where V reaches STATE_MAX: spike_count's min(V // STATE_MAX, OUTPUT_CAP) with V at most
# STATE_MAX (saturated), i.e. V // STATE_MAX = 1 there and <= 0 below
READOUT_SPIKES = min(xylo.OUTPUT_CAP, 1)


@njit(inline="always", **OPTS)
def tile_cols(q, n0, m):
    """Per-neuron parameters (N,) for the columns n0 .. n0 + m of M = B * N (column c is
    neuron c % N): the kernels take parameters per neuron and tile them per chunk."""
    n = q.shape[0]
    out = np.empty(m, q.dtype)
    for j in range(m):
        out[j] = q[(n0 + j) % n]
    return out


@njit(inline="always", **OPTS)
def tile_rows(q, n0, m):
    """:func:`tile_cols` for (K, N) parameters: a flat (K * m,) array, row k at k * m."""
    n_k, n = q.shape
    out = np.empty(n_k * m, q.dtype)
    for k in range(n_k):
        for j in range(m):
            out[k * m + j] = q[k, (n0 + j) % n]
    return out


def make_forward_float(spiking, multi, subtract):
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
            ak = tile_rows(a, n0, m)
            vv = v0[n0:n0 + m].copy()
            acc = np.empty(m, np.float32)
            bb, bs, ths = tile_cols(b, n0, m), tile_cols(bias, n0, m), tile_cols(theta, n0, m)
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


def make_forward_loihi(spiking, multi, subtract):
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
            vkeep = DECAY_UNIT - tile_cols(v_decay, n0, m)
            ths, bs = tile_cols(theta_i, n0, m), tile_cols(bias_i, n0, m)
            keep = DECAY_UNIT - tile_rows(i_decay, n0, m)
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


def make_forward_xylo(spiking, multi, subtract):
    s_min, s_max = np.int64(xylo.STATE_MIN), np.int64(xylo.STATE_MAX)
    readout_cap = np.int64(READOUT_SPIKES)
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
        ``subtract`` are unused (the cap says it all; the chip only subtracts). Without
        threshold (``spiking`` false, an ``li`` readout) the neuron is the chip's output
        neuron whose threshold is ``xylo.STATE_MAX``: where V reaches it, V is reduced by
        ``STATE_MAX`` (:func:`snnpipe.hwmap.targets.xylo.spike_count` with ``OUTPUT_CAP``; no
        spikes are written) and v records that post-reset V, which is also the state
        carried (as the reference)."""
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
            dm, ds = tile_cols(dash_mem, n0, m), tile_rows(dash_syn, n0, m)
            ths, bs = tile_cols(theta_i, n0, m), tile_cols(bias_i, n0, m)
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
                    dv = min(max(((-d - s_min) & XYLO_MASK) + s_min + acc[j], s_min), s_max)
                    dv = min(max(dv + bs[j], s_min), s_max)
                    w = min(max(w + dv, s_min), s_max)
                    if spiking:
                        vf[o + j] = np.float32(w) * inv
                        th = ths[j]
                        if th > 0:
                            c = min(max(w // th, 0), max_spikes)
                        else:
                            c = max_spikes if w >= th else 0
                        vi[j] = min(max(w - c * th, s_min), s_max)
                        sf[o + j] = np.float32(c)
                    else:       # a readout: threshold STATE_MAX, v recorded after the reset
                        w -= (readout_cap if w >= s_max else 0) * s_max
                        vf[o + j] = np.float32(w) * inv
                        vi[j] = w
            for j in range(m):
                v_last[n0 + j] = np.float32(vi[j]) * inv
    return forward_xylo

"""Numba time loop of the Loihi-style integer simulator (:mod:`snnpipe.hwmap.intsim.loihi`).

One compiled loop runs a whole network of Dense / identity projections (any delays, binary or
graded messages, any ``weight_exp``) sample by sample: every step updates all neurons with
:func:`neuron_step` (the integer rule of :mod:`snnpipe.hwmap.targets.loihi`, operation for operation
as ``neuron_step_inplace``), then adds the weight rows of the active sources (input raster
entries, spikes) into a ring of pending inputs at ``t + 1 + delay``. Nothing is allocated per
step. The layer-by-layer path (:mod:`snnpipe.hwmap.intsim.loihi_layered`) runs one
population over all steps instead: :func:`scan` (LIF) and :func:`sigma_delta_scan`. Serial
(numba's thread pool is never started). Compiled on first use (about 2.5 s;
``cache=True``: later processes load it from ``__pycache__``). The constants of
:mod:`snnpipe.hwmap.targets.loihi` are compiled in: numba's cache notices changes to this file only.

Projection table ``terms`` (int64, one row per (projection, delay), columns ``T_*``): source
offset and size in the input vector (``T_INPUT`` = 1) or in the spike vector, destination
offset and size in the state vector, delay, synaptic current, ``weight_exp``, graded flag,
diagonal flag (identity), offset of the weights in ``w``: row-major (N_src, N_dst), or (N,)
for a diagonal; already shifted left by ``weight_exp + 6`` when ``weight_exp >= 0`` (exact:
integer shifts distribute over the sum), raw otherwise (the sum is floor-shifted per step);
and the payload flag: the source sends graded CUBA payloads, whose sums go unshifted into a
second ring (weights shifted by ``weight_exp`` only) and enter the current truncated once per
step (:func:`snnpipe.hwmap.targets.loihi.graded_input`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from snnpipe.hwmap.mappers.loihi_config import SD_STAGES
from snnpipe.hwmap.targets.loihi import (ACTIVATION_SHIFT, DECAY_BITS, DECAY_UNIT, U_HALF, U_WRAP,
                                         V_MAX)

(T_INPUT, T_SRC, T_NSRC, T_DST, T_NDST, T_DELAY, T_SYN, T_EXP, T_GRADED, T_DIAG,
 T_WOFF, T_PAYLOAD) = range(12)
N_COLS = 12
ROUND = DECAY_UNIT - 1
SPIKE_BLOCK = 64              # steps of spikes buffered before the (B, N, T) output


@njit(cache=True, nogil=True)
def neuron_step(x, a, keep, bias, theta, graded, s):
    """One step of one sample, in place: ``x`` (n_syn + 1, N) int64 currents then voltage,
    ``a`` (n_syn, N) input already shifted (``a << 6``), ``keep`` (n_syn + 1, N) ``4096 -
    decay``, ``bias``, ``theta``, ``graded`` (N,) (1: a graded CUBA neuron); writes spikes 0/1,
    or the pre-reset voltage of a spiking graded neuron, into ``s`` (N,) int64. Same rule and
    order as :func:`snnpipe.hwmap.targets.loihi.neuron_step_inplace`: decay with truncation toward
    zero, add the input, a single 24-bit wrap correction of u, v += each u then the bias,
    saturate v, strict threshold, reset to zero. Branch-free loops over neurons (they
    vectorise)."""
    n_syn, n = a.shape[0], x.shape[1]
    v = x[n_syn]
    kv = keep[n_syn]
    for i in range(n):
        p = v[i] * kv[i]
        v[i] = (p + ((p >> 63) & ROUND)) >> DECAY_BITS
    for k in range(n_syn):
        u, ku, ak = x[k], keep[k], a[k]
        for i in range(n):
            p = u[i] * ku[i]
            w = ((p + ((p >> 63) & ROUND)) >> DECAY_BITS) + ak[i]
            w = w - U_WRAP if w > U_HALF else w
            w = w + U_WRAP if w <= -U_HALF else w
            u[i] = w
            v[i] += w
    for i in range(n):
        w = min(max(v[i] + bias[i], -V_MAX), V_MAX)
        f = w > theta[i]
        s[i] = f * (w * graded[i] + 1 - graded[i])
        v[i] = 0 if f else w


@njit(cache=True, nogil=True)
def _add_row(tgt, w, c):
    """``tgt += c * w`` (1-D, same length)."""
    if c == 1:
        for k in range(tgt.shape[0]):
            tgt[k] += w[k]
    else:
        for k in range(tgt.shape[0]):
            tgt[k] += c * w[k]


@njit(cache=True, nogil=True)
def _project(src, tm, w, ring, fine, slot, acc):
    """Add projection term ``tm`` of the source vector ``src`` into ``ring[slot]`` (or, for
    graded CUBA payloads, unshifted into ``fine[slot]``)."""
    n_src, n_dst, dst = tm[T_NSRC], tm[T_NDST], tm[T_DST]
    exp, graded, diag, w0 = tm[T_EXP], tm[T_GRADED], tm[T_DIAG], tm[T_WOFF]
    x = src[tm[T_SRC]:tm[T_SRC] + n_src]
    payload = tm[T_PAYLOAD]
    out = (fine if payload else ring)[slot, tm[T_SYN], dst:dst + n_dst]
    shift = 0 if payload else ACTIVATION_SHIFT
    direct = exp >= 0
    tgt = out if direct else acc[:n_dst]
    if not direct:
        tgt[:] = 0
    for j in range(n_src):
        c = x[j]
        if c == 0:
            continue
        if not graded:
            c = 1
        if diag:
            tgt[j] += c * w[w0 + j]
        else:
            _add_row(tgt, w[w0 + j * n_dst:w0 + (j + 1) * n_dst], c)
    if not direct:
        for k in range(n_dst):
            out[k] += (tgt[k] >> -exp) << shift


@njit(cache=True, nogil=True)
def reset_states(x, r_int, r_off, step):
    """Lava's LIFReset before step ``step`` (1-based): ``x[:, i] = 0`` (currents and voltage)
    where ``r_int[i] > 0`` and ``step % r_int[i] == r_off[i]``, as
    :func:`snnpipe.hwmap.targets.loihi.reset_due`."""
    for i in range(x.shape[1]):
        if r_int[i] > 0 and step % r_int[i] == r_off[i]:
            for k in range(x.shape[0]):
                x[k, i] = 0


@njit(cache=True, nogil=True)
def run(x, keep, bias, theta, graded, r_int, r_off, terms, w, ring_len, spikes, rec_u_idx,
        rec_u, rec_v_idx, rec_v, ev_b_in, ev_t_in, ev_b, ev_t):
    """All samples, all steps. ``x`` (B, N_in, T) int64 input rasters side by side; ``keep``
    (n_syn + 1, N); ``bias``, ``theta``, ``graded`` (N,) (:func:`neuron_step`); ``r_int``,
    ``r_off`` (N,) the periodic reset (:func:`reset_states`); ``terms``, ``w`` as the module
    says; ``ring_len`` >= max delay + 2. Writes ``spikes`` (B, N, T) uint8 (int64 with graded
    neurons: their payloads); where ``rec_*_idx[i] >= 0``,
    ``rec_u[b, k, rec_u_idx[i], t]`` and ``rec_v[b, rec_v_idx[i], t]`` (the states after step
    t); and adds the non-zero events of inputs and neurons per sample ``ev_b_in`` (B, N_in),
    ``ev_b`` (B, N) and per step ``ev_t_in`` (T, N_in), ``ev_t`` (T, N)."""
    n_b, n, n_t = spikes.shape
    n_in = x.shape[1]
    n_syn = keep.shape[0] - 1
    state = np.empty((n_syn + 1, n), np.int64)
    ring = np.empty((ring_len, n_syn, n), np.int64)
    payloads = False
    for q in range(terms.shape[0]):
        payloads = payloads or terms[q, T_PAYLOAD] != 0
    fine = np.empty((ring_len if payloads else 0, n_syn, n), np.int64)
    s = np.empty(n, np.int64)
    sb = np.empty((SPIKE_BLOCK, n), spikes.dtype)  # spikes of the last steps, time-major
    xt = np.empty(n_in, np.int64)
    acc = np.empty(max(1, n), np.int64)
    n_terms = terms.shape[0]
    want_u, want_v = rec_u.shape[2] > 0, rec_v.shape[1] > 0
    resets = r_int.max() > 0 if n > 0 else False
    for b in range(n_b):
        state[:] = 0
        ring[:] = 0
        fine[:] = 0
        for t in range(n_t):
            slot = t % ring_len
            if resets:
                reset_states(state, r_int, r_off, t + 1)
            if payloads:                     # targets.loihi.graded_input, operation for operation
                for k in range(n_syn):
                    for i in range(n):
                        p = (ring[slot, k, i] << ACTIVATION_SHIFT) + fine[slot, k, i]
                        ring[slot, k, i] = (p + ((p >> 63) & ((1 << ACTIVATION_SHIFT) - 1))) \
                            >> ACTIVATION_SHIFT
                fine[slot] = 0
            neuron_step(state, ring[slot], keep, bias, theta, graded, s)
            ring[slot] = 0
            row = sb[t % SPIKE_BLOCK]
            for i in range(n):
                row[i] = s[i]
                ev_b[b, i] += s[i] != 0
                ev_t[t, i] += s[i] != 0
            if t % SPIKE_BLOCK == SPIKE_BLOCK - 1 or t == n_t - 1:
                t0 = t - t % SPIKE_BLOCK
                for i in range(n):
                    for k in range(t - t0 + 1):
                        spikes[b, i, t0 + k] = sb[k, i]
            for j in range(n_in):
                xt[j] = x[b, j, t]
                nz = xt[j] != 0
                ev_b_in[b, j] += nz
                ev_t_in[t, j] += nz
            if want_u:
                for i in range(n):
                    if rec_u_idx[i] >= 0:
                        for k in range(n_syn):
                            rec_u[b, k, rec_u_idx[i], t] = state[k, i]
            if want_v:
                for i in range(n):
                    if rec_v_idx[i] >= 0:
                        rec_v[b, rec_v_idx[i], t] = state[n_syn, i]
            for q in range(n_terms):
                tm = terms[q]
                dest = (t + 1 + tm[T_DELAY]) % ring_len
                _project(xt if tm[T_INPUT] else s, tm, w, ring, fine, dest, acc)


@njit(cache=True, nogil=True)
def scan(arrivals, keep, bias, theta, r_int, r_off, spikes, rec_u, rec_v):
    """One population over a whole run (the layer-by-layer path,
    :mod:`snnpipe.hwmap.intsim.loihi_layered`): ``arrivals`` (n_syn, T, B, N) int64 (int32
    where the sums fit) input already shifted, ``keep`` (n_syn + 1, N), ``bias``, ``theta``,
    ``r_int``, ``r_off`` (N,) (the periodic reset, :func:`reset_states`); writes ``spikes``
    (T, B, N) uint8 and, when they have T rows, ``rec_u`` (T, n_syn, B, N) and ``rec_v``
    (T, B, N). Each step is :func:`neuron_step`."""
    n_syn, n_t, n_b, n = arrivals.shape
    x = np.zeros((n_b, n_syn + 1, n), np.int64)
    a = np.empty((n_syn, n), np.int64)
    s = np.empty(n, np.int64)
    binary = np.zeros(n, np.int64)
    resets = r_int.max() > 0 if n > 0 else False
    for t in range(n_t):
        for b in range(n_b):
            for k in range(n_syn):
                a[k] = arrivals[k, t, b]
            if resets:
                reset_states(x[b], r_int, r_off, t + 1)
            neuron_step(x[b], a, keep, bias, theta, binary, s)
            for i in range(n):
                spikes[t, b, i] = s[i]
            if rec_u.shape[0] == n_t:
                for k in range(n_syn):
                    rec_u[t, k, b] = x[b, k]
            if rec_v.shape[0] == n_t:
                rec_v[t, b] = x[b, n_syn]


# sigma-delta stages as the compiled loop knows them: 0 sigma_delta, 1 delta, 2 sigma
SD_STAGE_CODES = {stage: i for i, stage in enumerate(SD_STAGES)}
NO_RELU = -(1 << 62)          # relu as max(new, floor): the floor without relu (Lava's
                              # states are int32: no value comes near it)


@njit(cache=True, nogil=True)
def _delta_pass(src, down, up, e, out, bias, theta, floor, state_exp):
    """One step of a delta encoder over one sample's neurons: ``new = max(((src >> down) <<
    up) + bias, floor)``, ``d = new - act + residue``, message ``d`` where ``|d| >= theta``
    (else 0) shifted right by ``state_exp``. Holds one state, ``e = residue - act``: two arrays
    written, so the loop vectorises (with act and residue, LLVM's alias checks give up)."""
    for i in range(src.shape[0]):
        new = max(((src[i] >> down) << up) + bias[i], floor)
        d = new + e[i]
        m = d * (abs(d) >= theta[i])
        e[i] = d - m - new
        out[i] = m >> state_exp


@njit(cache=True, nogil=True)
def sigma_delta_scan(a, sigma, act, residue, bias, theta, stage, relu, in_shift, state_exp,
                     out):
    """One sigma-delta population over a whole run (the layer-by-layer path): ``a`` (T, B, N)
    int64 input shifted left by 6; states ``sigma``, ``act``, ``residue`` (B, N) updated in
    place; ``bias``, ``theta`` (N,); ``stage`` a :data:`SD_STAGE_CODES` code. Writes the messages
    into ``out`` (T, B, N). Each step is :func:`snnpipe.hwmap.targets.loihi.sigma_delta_step`:
    the sigma stage, then the delta encoder (:func:`_delta_pass`)."""
    n_t, n_b, n = a.shape
    floor = 0 if relu else NO_RELU
    for b in range(n_b):
        sg = sigma[b]
        e = residue[b] - act[b]
        for t in range(n_t):
            if stage == 1:
                _delta_pass(a[t, b], ACTIVATION_SHIFT, in_shift, e, out[t, b], bias, theta,
                            floor, state_exp)
                continue
            at = a[t, b]
            for i in range(n):
                sg[i] += at[i] >> ACTIVATION_SHIFT
            if stage == 0:
                _delta_pass(sg, 0, 0, e, out[t, b], bias, theta, floor, state_exp)
            else:
                o = out[t, b]
                for i in range(n):
                    o[i] = max(sg[i] + bias[i], floor)
        if n_t == 0:
            continue
        for i in range(n):               # the last step's new value is act; residue = e + act
            x = ((a[n_t - 1, b, i] >> ACTIVATION_SHIFT) << in_shift) if stage == 1 else sg[i]
            act[b, i] = max(x + bias[i], floor)
            if stage != 2:
                residue[b, i] = e[i] + act[b, i]

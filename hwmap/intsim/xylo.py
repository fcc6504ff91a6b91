"""Cycle-accurate, bit-exact integer simulator of Xylo Audio 2 (DESIGN.md 6.2; oracle: xylosim.v2).

Per step t, for a batch of samples at once (all states 16-bit, every addition saturating):
1. input events of step t (counts clipped to 15) and hidden spikes of step t-1 (at most 31
   each) are added to ``Isyn``/``Isyn2`` as ``wrap16(w << shift)``, sources in ascending order;
   hidden spikes of t-1 are added to the output currents likewise;
2. currents leak: ``I -= decay(I, dash)``;
3. membranes: ``V = sat(V + sat(sat(wrap16(-decay(V, dash_mem)) + I1 + I2) + bias))``
   (Xylo v1, no bias: ``V = sat(V - decay(V, dash_mem) + I1 + I2)``);
4. spikes: ``n = min(V // theta, 31)`` (1 for outputs), ``V -= n * theta``; aliases forward the
   count a neuron holds when processed (hidden neurons in ascending order), capped at 31.

Layout: inputs and hidden spikes are one vector of sources, hidden and output currents one row
of states, so a step is one product of the event counts with one weight matrix: the float32
rows of the active sources (batch <= 2) or a scipy CSR product (larger batches); exact, as the
values used are integers below 2^24. Saturation makes the order of additions matter, so each
step bounds ``|I| + sum |w|`` per state cheaply (first by the number of spikes times the largest
weight, then exactly) and recomputes in event order only the states that could saturate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from snnpipe.hwmap.intsim.xylo_kernel import ordered_sum
from snnpipe.hwmap.intsim.xylo_cost import XyloCosts, estimate
from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import (STATE_MAX, STATE_MIN, XYLO_AUDIO2, XyloLimits, decay,
                                        membrane_step, membrane_step_v1, shifted_weight,
                                        spike_count, spike_count_numpy)
from snnpipe.pipeline.ir.errors import FormatError

STATE_NAMES = ("Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out")
_CHUNK_ELEMENTS = 1 << 20   # input counts converted per chunk of (batch * step * channel)


@dataclass
class XyloResult:
    """Output of :func:`simulate`.

    ``spikes_out`` (B, Nout, T) and ``spikes`` (B, Nhid, T, or None) are spike counts per step
    (uint8); ``states`` maps ``Vmem``, ``Isyn``, ``Isyn2`` (B, Nhid, T) and ``Vmem_out``,
    ``Isyn_out`` (B, Nout, T) to int16 arrays, the values at the end of each step (after decay,
    after spike and reset), when recorded. ``counts`` are event totals over the batch;
    ``cost`` the energy / latency estimate per sample; ``ordered_states`` how many (sample,
    state, step) entries took the ordered (saturating) path.
    """

    spikes_out: np.ndarray
    spikes: np.ndarray | None
    states: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)
    ordered_states: int = 0


class _Net:
    """Per-config constants in one layout for hidden and output neurons.

    Sources (rows): the Nin input channels, then the N hidden neurons. Currents (columns, K =
    2(N + M)): ``Isyn`` of the hidden neurons, ``Isyn`` of the M outputs, ``Isyn2`` of the
    hidden neurons, M unused zeros; so ``I1 + I2`` of all N + M neurons is
    ``cur[:, :N+M] + cur[:, N+M:]``. Membranes and spikes: hidden neurons, then outputs.
    """

    def __init__(self, c: XyloConfig, lim: XyloLimits):
        n_in, n, m = c.shape
        self.n_in, self.n, self.m = n_in, n, m
        w = np.zeros((n_in + n, 2 * (n + m)), np.int64)
        for syn, col in ((0, 0), (1, n + m)):
            w[:n_in, col:col + n] = shifted_weight(c.weights_in[:, :, syn], c.weight_shift_in)
            w[n_in:, col:col + n] = shifted_weight(c.weights_rec[:, :, syn], c.weight_shift_rec)
        w[n_in:, n:n + m] = shifted_weight(c.weights_out, c.weight_shift_out)
        self.w = w.astype(np.int32)
        self.w_f = w.astype(np.float32)
        self.w_abs = np.abs(w).astype(np.float32)
        self.col_max = np.abs(w).max(axis=0, initial=0).astype(np.int32)
        self.all_max = int(self.col_max.max(initial=0))
        self.nnz_in = np.count_nonzero(w[:n_in], axis=1)
        self.nnz_rec = np.count_nonzero(w[n_in:, :n], axis=1) + np.count_nonzero(w[n_in:, n + m:], axis=1)
        self.nnz_out = np.count_nonzero(w[n_in:, n:n + m], axis=1)
        zeros = np.zeros(m, np.int64)
        self.dash_cur = np.concatenate([c.dash_syn, c.dash_syn_out, c.dash_syn_2, zeros]).astype(np.int32)
        self.dash_mem = np.concatenate([c.dash_mem, c.dash_mem_out]).astype(np.int32)
        self.threshold = np.concatenate([c.threshold, c.threshold_out]).astype(np.int32)
        self.threshold_f = self.threshold.astype(np.float32)
        self.positive = bool(np.all(self.threshold > 0))
        self.bias = np.concatenate([c.bias, c.bias_out]).astype(np.int32) if lim.has_bias else None
        self.cap = np.concatenate([np.full(n, lim.max_hidden_spikes),
                                   np.full(m, lim.max_output_spikes)]).astype(np.int32)
        self.max_events = lim.max_input_events
        self.levels, self.late = _alias_plan(c.aliases)


def _alias_plan(aliases: list) -> tuple[list, tuple]:
    """Group alias targets by the depth of their chain of lower-numbered sources.

    Returns ``levels``: for depth 1, 2, ...: (target ids, source ids, position of each source's
    target in the ids) for sources numbered below their target (their copies arrive before
    the target is processed); and ``late``: (sources, targets) for sources numbered above
    their target (copies added after the target has spiked and forwarded its count).
    """
    pairs = [(s, a) for s, targets in enumerate(aliases) for a in targets]
    depth = {}
    for s, a in sorted(pairs, key=lambda p: p[1]):
        if s < a:
            depth[a] = max(depth.get(a, 0), depth.get(s, 0) + 1)
    levels = []
    for d in range(1, max(depth.values(), default=0) + 1):
        ids = np.array(sorted(a for a, v in depth.items() if v == d), np.int64)
        where = {a: k for k, a in enumerate(ids)}
        early = [(s, a) for s, a in pairs if s < a and a in where]
        levels.append((ids, np.array([s for s, _ in early], np.int64),
                       np.array([where[a] for _, a in early], np.int64)))
    late = [(s, a) for s, a in pairs if s > a]
    return levels, (np.array([s for s, _ in late], np.int64), np.array([a for _, a in late], np.int64))


def _spikes(net: _Net, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spike counts (B, N+M) after aliases, and the membranes after reset.

    A neuron processed with ``r`` copies already received adds at most ``cap - r`` spikes and
    forwards ``r + own``; copies from higher-numbered sources arrive after it forwarded.
    """
    def spike(v, ids, room):
        if net.positive:
            return spike_count_numpy(v, net.threshold_f[ids], net.threshold[ids], room)
        return spike_count(v, net.threshold[ids], room)

    held, v_new = spike(v, slice(None), net.cap)
    for ids, srcs, pos in net.levels:
        received = np.zeros((v.shape[0], ids.size), np.int32)
        np.add.at(received, (slice(None), pos), held[:, srcs])
        received = received.clip(None, net.cap[ids])
        own, v_ids = spike(v[:, ids], ids, net.cap[ids] - received)
        held[:, ids] = received + own
        v_new[:, ids] = v_ids
    srcs, targets = net.late
    if srcs.size == 0:
        return held, v_new
    total = held.copy()
    np.add.at(total, (slice(None), targets), held[:, srcs])
    return total.clip(None, net.cap), v_new


def _ordered(net: _Net, cur: np.ndarray, bad: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """``cur`` plus the events ``ev`` (B, Nin+N) where ``bad``: saturating, in source order
    (:func:`snnpipe.hwmap.intsim.xylo_kernel.ordered_sum`)."""
    b, k = np.nonzero(bad)
    return ordered_sum(cur, b, k, np.ascontiguousarray(ev, np.int32), net.w)


def _accumulate(net: _Net, cur: np.ndarray, ev: np.ndarray, sparse: bool) -> tuple[np.ndarray, int]:
    """Add one step's events ``ev`` (B, Nin+N) to the currents ``cur`` (B, K).

    Exact float32 products where ``|I| + sum |w|`` cannot leave 16 bits (checked per sample,
    then per state with the event count times the largest weight, then exactly); the ordered
    saturating sum elsewhere. Returns the new currents and the number of ordered entries.
    """
    if sparse:
        events = csr_matrix(ev, dtype=np.float32)
        product = (lambda w: np.asarray(events @ w))
    else:
        act = np.flatnonzero(ev.any(axis=0))
        if act.size == 0:
            return cur, 0
        events = ev[:, act].astype(np.float32)
        product = (lambda w: events @ w[act])
    new = cur + product(net.w_f).astype(np.int32)
    n_ev = ev.sum(axis=1, dtype=np.int32)
    if np.all(np.abs(cur).max(axis=1) + n_ev * net.all_max <= STATE_MAX):
        return new, 0
    bound = n_ev[:, None] * net.col_max
    if np.all((cur + bound <= STATE_MAX) & (cur - bound >= STATE_MIN)):
        return new, 0
    bound = product(net.w_abs).astype(np.int32)
    bad = ~((cur + bound <= STATE_MAX) & (cur - bound >= STATE_MIN))
    if not bad.any():
        return new, 0
    new[bad] = _ordered(net, cur, bad, ev)
    return new, int(bad.sum())


def _inputs(inputs, n_in: int) -> np.ndarray:
    x = np.asarray(inputs)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or not (np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise FormatError("expected integer event counts", field="inputs",
                          expected="(batch, channels, time) integers", found=f"{x.dtype} {x.shape}")
    if x.shape[1] != n_in:
        raise FormatError("wrong number of input channels", field="inputs", expected=n_in,
                          found=x.shape[1])
    return x


def simulate(config: XyloConfig, inputs, record: bool = False, hidden: bool = True,
             limits: XyloLimits = XYLO_AUDIO2, costs: XyloCosts = XyloCosts()) -> XyloResult:
    """Run ``config`` on ``inputs`` from zero state, bit-exact with xylosim.

    Args:
        config: the network (weights and parameters in chip integers).
        inputs: integer event counts (batch, Nin, T) or (Nin, T) (then batch 1); counts above
            ``limits.max_input_events`` are clipped, negative counts count as 0.
        record: also return the states of every step (int16, see :class:`XyloResult`).
        hidden: return the hidden spike counts (B, Nhid, T).
        limits: chip variant: spike caps, input clipping, and whether bias exists; without
            bias (``XYLO_V1``) the membrane follows Xylo v1 (one saturation, xylosim.v1).
        costs: cost table of the energy / latency estimate.
    """
    x_all = _inputs(inputs, config.shape[0])
    net = _Net(config, limits)
    b, n_in, steps = x_all.shape
    n, m = net.n, net.m
    rec = {k: np.zeros((steps, b, m if k.endswith("_out") else n), np.int16)
           for k in STATE_NAMES} if record else {}
    s_hid = np.zeros((steps, b, n), np.uint8) if hidden else None
    s_out = np.zeros((steps, b, m), np.uint8)
    cur = np.zeros((b, 2 * (n + m)), np.int32)
    v = np.zeros((b, n + m), np.int32)
    ev = np.zeros((b, n_in + n), np.int32)
    sum_ev = np.zeros((b, n_in + n), np.int64)
    ordered = 0
    sparse = b > 2
    chunk = max(1, _CHUNK_ELEMENTS // max(1, b * n_in))
    for t0 in range(0, steps, chunk):
        x = x_all[:, :, t0:t0 + chunk].clip(0, net.max_events).astype(np.int32).transpose(2, 0, 1)
        for t, x_t in enumerate(x, start=t0):
            ev[:, :n_in] = x_t
            cur, n_ord = _accumulate(net, cur, ev, sparse)
            ordered += n_ord
            sum_ev += ev
            cur = cur - decay(cur, net.dash_cur)
            i_total = cur[:, :n + m] + cur[:, n + m:]
            if net.bias is None:
                v = membrane_step_v1(v, i_total, net.dash_mem)
            else:
                v = membrane_step(v, i_total, net.dash_mem, net.bias)
            spikes, v = _spikes(net, v)
            ev[:, n_in:] = spikes[:, :n]
            s_out[t] = spikes[:, n:]
            if hidden:
                s_hid[t] = ev[:, n_in:]
            if record:
                for name, val in zip(STATE_NAMES, (v[:, :n], cur[:, :n], cur[:, n + m:2 * n + m],
                                                   v[:, n:], cur[:, n:n + m])):
                    rec[name][t] = val
    counts = _counts(net, sum_ev, ev[:, n_in:], s_out, b, steps)
    return XyloResult(spikes_out=s_out.transpose(1, 2, 0),
                      spikes=None if s_hid is None else s_hid.transpose(1, 2, 0),
                      states={k: a.transpose(1, 2, 0) for k, a in rec.items()}, counts=counts,
                      cost=estimate(counts, b, steps, config.dt, costs), ordered_states=ordered)


def _counts(net: _Net, sum_ev, s_last, s_out, b, steps) -> dict:
    """Event totals over the batch: synaptic additions, neuron updates, spikes.

    ``sum_ev`` holds the events delivered (inputs, and hidden spikes of steps 0..T-2); the
    spikes of the last step ``s_last`` are counted as spikes but reach no synapse in the run.
    """
    x_sum, s_sum = sum_ev[:, :net.n_in], sum_ev[:, net.n_in:]
    syn_in = int((x_sum * net.nnz_in).sum())
    syn_rec = int((s_sum * net.nnz_rec).sum())
    syn_out = int((s_sum * net.nnz_out).sum())
    hid = int(s_sum.sum() + s_last.sum())
    out = int(s_out.sum(dtype=np.int64))
    return {"input_events": int(x_sum.sum()), "syn_ops_in": syn_in, "syn_ops_rec": syn_rec,
            "syn_ops_out": syn_out, "syn_ops": syn_in + syn_rec + syn_out,
            "neuron_updates": b * steps * (net.n + net.m), "spikes_hidden": hid,
            "spikes_out": out, "spikes": hid + out}

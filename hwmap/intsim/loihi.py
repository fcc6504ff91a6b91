"""Cycle-accurate integer simulator of the Loihi-style target (DESIGN.md 5.1, 5.2, 6.1).

Bit-exact with Lava's fixed-point LIF / Dense / DelayDense / Conv: all state is int64 and the
neuron rule is the one of :mod:`hwmap.targets.loihi`. Time steps follow Lava: at step t
(1-based) an input raster sends column t-1; a projection turns the spikes its source emits at
step t into input its target receives at step t + 1 + delay. Since every projection adds a
step, all populations update together from one state vector; input projections are computed a
block of steps at a time (one matrix product), projections between populations every step (a
gather of the active rows for one sample, a matrix product for a batch).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from hwmap.intsim.energy import LoihiCosts, estimate
from hwmap.targets.loihi import ACTIVATION_SHIFT as ACT
from hwmap.targets.loihi import (DECAY_UNIT, V_MAX, bias_array, neuron_step_inplace,
                                 threshold_value, wrap_activation)
from hwmap.targets.loihi_config import LoihiConfig
from hwmap.targets.loihi_conv import conv_apply
from hwmap.targets.loihi_map import connectivity, effective
from hwmap.targets.loihi_weights import shift_exp
from pipeline.errors import FormatError

BLOCK_ELEMENTS = 1 << 22  # time block: steps * batch * neurons of the largest population
SPARSE_DENSITY = 0.1      # below this fraction of active sources, Dense sums are sparse ...
SPARSE_MIN_ROWS = 1024    # ... for blocks of at least this many (step, sample) rows


@dataclass
class EventCounts:
    """Events of a batch. Per sample (B, n_cores): ``synops`` (synaptic operations in the
    destination core), ``spikes``; per sample (B,): ``local_messages`` (spike to its own core),
    ``core_messages`` (to another core of the chip), ``chip_messages``, ``input_messages``;
    per step summed over the batch (T, n_cores): ``step_synops``, ``step_spikes``,
    ``step_messages_out``; ``neurons_per_core`` (n_cores,), ``neuron_updates`` (n_cores,) per
    sample (every neuron updates every step)."""

    synops: np.ndarray
    spikes: np.ndarray
    local_messages: np.ndarray
    core_messages: np.ndarray
    chip_messages: np.ndarray
    input_messages: np.ndarray
    step_synops: np.ndarray
    step_spikes: np.ndarray
    step_messages_out: np.ndarray
    neurons_per_core: np.ndarray
    neuron_updates: np.ndarray


@dataclass
class LoihiResult:
    """``spikes``: population -> (B, N, T) uint8 (index t-1 is Lava step t); ``states``:
    ``"<pop>/u"`` -> (B, n_syn, N, T), ``"<pop>/v"`` -> (B, N, T) int64; ``counts``;
    ``energy``: :func:`hwmap.intsim.energy.estimate`."""

    spikes: dict
    states: dict = field(default_factory=dict)
    counts: EventCounts | None = None
    energy: dict = field(default_factory=dict)


class _Synapses:
    """One projection prepared for evaluation: effective weights split by delay."""

    def __init__(self, cfg: LoihiConfig, q):
        self.q, self.src_shape = q, tuple(cfg.node_shape(q.src))
        self.n_dst = cfg.population(q.dst).size
        if q.op == "conv":
            mats = [(0, np.asarray(q.weight, np.int64))]
        else:
            eff = effective(q)
            dl = np.broadcast_to(np.asarray(q.delay), eff.shape)
            mats = [(int(d), np.where(dl == d, eff, 0).T.copy()) for d in np.unique(dl)]
        # float32 products are exact while every partial sum stays below 2^24 (binary inputs)
        small = q.op == "dense" and q.message_bits == 0 and all(
            np.abs(w).sum(axis=0).max(initial=0) < 2 ** 24 for _, w in mats)
        ft = np.float32 if small else np.float64
        self.terms = [(d, w.astype(ft), w) for d, w in mats]   # (delay, float, int64)
        self.max_delay = max(d for d, _, _ in self.terms)

    def apply(self, x: np.ndarray):
        """Source events (M, N_src) -> [(delay, Dense/Conv output (M, N_dst) int64)].

        Dense sums are exact: sparse int64 products when few sources are active, else BLAS in
        float64 (float32 when every partial sum stays below 2^24).
        """
        if len(x) == 1 and self.q.op == "dense":           # one sample, one step: gather rows
            idx = np.flatnonzero(x[0])
            return [(d, shift_exp((x[0, idx].astype(np.int64) @ wi[idx] if self.q.message_bits
                                   else np.add.reduce(wi[idx], axis=0))[None], self.q.weight_exp))
                    for d, _, wi in self.terms]
        x = x if self.q.message_bits > 0 else (x != 0)
        out = []
        for d, wf, wi in self.terms:
            if self.q.op == "conv":
                acc = conv_apply(x.reshape((-1,) + self.src_shape), wf, self.q.conv)
                out.append((d, wrap_activation(acc.reshape(len(x), -1).astype(np.int64))))
                continue
            if self.q.op == "identity":
                acc = x * wi
            elif len(x) >= SPARSE_MIN_ROWS and np.count_nonzero(x) < SPARSE_DENSITY * x.size:
                acc = np.asarray(sparse.csr_matrix(x.astype(np.int64)) @ wi)
            else:
                acc = (x.astype(wf.dtype) @ wf).astype(np.int64)
            out.append((d, shift_exp(acc, self.q.weight_exp)))
        return out


def _inputs(cfg: LoihiConfig, inputs) -> tuple[dict, int, int]:
    """Input rasters -> {name: (T, B, N) int64}, T, B."""
    if not isinstance(inputs, dict):
        if len(cfg.inputs) != 1:
            raise FormatError("several inputs: pass a dict name -> raster", field="inputs",
                              expected=sorted(cfg.inputs))
        inputs = {next(iter(cfg.inputs)): inputs}
    out, dims = {}, set()
    for name, shape in cfg.inputs.items():
        if name not in inputs:
            raise FormatError("missing input raster", field=name)
        x = np.asarray(inputs[name])
        n = int(np.prod(shape))
        if x.ndim >= 2 and x.shape[-2] != n and x.shape[-len(shape) - 1:-1] == tuple(shape):
            x = x.reshape(x.shape[:-len(shape) - 1] + (n, x.shape[-1]))
        x = x[None] if x.ndim == 2 else x
        if x.ndim != 3 or x.shape[1] != n or not np.issubdtype(x.dtype, np.integer) and \
                not np.array_equal(x, np.round(x)):
            raise FormatError("input raster must be integer counts (batch, channels, time)",
                              field=name, expected=f"(B, {n}, T)", found=x.shape)
        out[name] = np.ascontiguousarray(np.moveaxis(x.astype(np.int64), 2, 0))
        dims.add((x.shape[0], x.shape[2]))
    if len(dims) != 1:
        raise FormatError("input rasters differ in batch or time", field="inputs", found=dims)
    b, t = dims.pop()
    return out, t, b


def _wanted(record, pop: str, var: str) -> bool:
    return var in record or f"{pop}/{var}" in record


def _check_record(cfg: LoihiConfig, record) -> None:
    names = {p.name for p in cfg.populations}
    for r in record:
        pop, _, var = r.rpartition("/")
        if var not in ("spikes", "u", "v") or (pop and pop not in names):
            raise FormatError("unknown state to record", field="record",
                              expected="spikes | u | v | <population>/<u|v>", found=r)


def simulate(cfg: LoihiConfig, inputs, record=("spikes",), costs: LoihiCosts = LoihiCosts()):
    """Run ``cfg`` on input rasters (B, N_in, T) of integer counts (or (N_in, T), or a dict
    name -> raster). ``record``: ``"u"``, ``"v"`` (every population) or ``"<pop>/<var>"``.
    Returns :class:`LoihiResult`; spikes of every population are always returned.
    """
    _check_record(cfg, record)
    x_in, T, B = _inputs(cfg, inputs)
    net = _FlatNet(cfg, B, T)
    spikes = np.zeros((T, B, net.n), np.uint8)
    rec = {}
    for p in cfg.populations:
        if _wanted(record, p.name, "u"):
            rec[f"{p.name}/u"] = np.zeros((T, p.n_syn, B, p.size), np.int64)
        if _wanted(record, p.name, "v"):
            rec[f"{p.name}/v"] = np.zeros((T, B, p.size), np.int64)
    for t0 in range(0, T, net.tb):
        t1 = min(T, t0 + net.tb)
        for s in net.external:
            net.add_block(s, x_in[s.q.src][t0:t1])
        for t in range(t0, t1):
            spikes[t] = net.step(t - t0)
            for s in net.internal:
                net.add_step(s, spikes[t, :, net.slice[s.q.src]], t - t0)
            for key, arr in rec.items():
                arr[t] = net.state(*key.split("/"))
        net.next_block(t1 - t0)
    events = dict(x_in, **{p.name: spikes[:, :, net.slice[p.name]] for p in cfg.populations})
    counts = count_events(cfg, events, net.synapses, T, B)
    return LoihiResult({p.name: np.ascontiguousarray(events[p.name].transpose(1, 2, 0))
                        for p in cfg.populations},
                       {k: np.ascontiguousarray(v.transpose((2, 1, 3, 0) if v.ndim == 4
                                                            else (1, 2, 0)))
                        for k, v in rec.items()},
                       counts, estimate(counts, costs))


class _FlatNet:
    """Every population in one state vector: ``x`` (n_syn + 1, B, N_total) holds the currents
    and the voltage; inputs wait in ``pending`` (n_syn, block + max delay + 1, B, N_total),
    already shifted left by 6: input projections are computed a block of steps at a time,
    projections between populations every step."""

    def __init__(self, cfg: LoihiConfig, B: int, T: int):
        pops = cfg.populations
        self.n_syn = max([p.n_syn for p in pops] + [1])
        offs = np.cumsum([0] + [p.size for p in pops])
        self.n, self.slice = int(offs[-1]), {p.name: slice(int(a), int(b))
                                             for p, a, b in zip(pops, offs[:-1], offs[1:])}
        self.pops = {p.name: p for p in pops}
        self.synapses = [_Synapses(cfg, q) for q in cfg.projections]
        self.external = [s for s in self.synapses if s.q.src in cfg.inputs]
        self.internal = [s for s in self.synapses if s.q.src not in cfg.inputs]
        self.keep = np.full((self.n_syn + 1, 1, self.n), DECAY_UNIT, np.int64)
        self.bias = np.zeros(self.n, np.int64)
        self.theta = np.full(self.n, V_MAX, np.int64)          # li: v never exceeds V_MAX
        for p in pops:
            sl = self.slice[p.name]
            self.keep[:p.n_syn, 0, sl] -= np.asarray(p.i_decay, np.int64)
            self.keep[-1, 0, sl] -= np.asarray(p.v_decay, np.int64)
            self.bias[sl] = bias_array(p.bias_mant, p.bias_exp)
            if p.model == "cuba":
                self.theta[sl] = threshold_value(np.asarray(p.vth, np.int64))
        self.x = np.zeros((self.n_syn + 1, B, self.n), np.int64)
        self.tmp = np.empty_like(self.x)
        self.tb = int(max(1, min(T, BLOCK_ELEMENTS // max(1, B * self.n))))
        d_max = max([s.max_delay for s in self.synapses] + [0])
        self.pending = np.zeros((self.n_syn, self.tb + d_max + 1, B, self.n), np.int64)

    def add_block(self, s: _Synapses, x: np.ndarray) -> None:
        """Input projection over a block: x (Tb, B, N_src) -> arrivals at t + 1 + delay."""
        tb, b = x.shape[:2]
        sl = self.slice[s.q.dst]
        for d, acc in s.apply(x.reshape(tb * b, -1)):
            self.pending[s.q.syn, 1 + d:1 + d + tb, :, sl] += acc.reshape(tb, b, -1) << ACT

    def add_step(self, s: _Synapses, x: np.ndarray, k: int) -> None:
        """Spikes (B, N_src) a population emits at block position k -> arrivals k + 1 + delay."""
        sl = self.slice[s.q.dst]
        for d, acc in s.apply(x):
            self.pending[s.q.syn, k + 1 + d, :, sl] += acc << ACT

    def step(self, k: int) -> np.ndarray:
        """Block position k: receive, update u and v, spike. Returns spikes (B, N)."""
        return neuron_step_inplace(self.x, self.pending[:, k], self.keep, self.bias, self.theta,
                                   self.tmp)

    def state(self, pop: str, var: str) -> np.ndarray:
        """u (n_syn, B, N) or v (B, N) of one population, now."""
        sl = self.slice[pop]
        return self.x[:self.pops[pop].n_syn, :, sl] if var == "u" else self.x[-1, :, sl]

    def next_block(self, tb: int) -> None:
        """Move arrivals beyond the block to its start."""
        tail = self.pending[:, tb:].copy()
        self.pending[:] = 0
        self.pending[:, :tail.shape[1]] = tail


def count_events(cfg: LoihiConfig, events: dict, syn: list, T: int, B: int) -> EventCounts:
    """Synaptic operations, spikes and messages per core from the event rasters (T, B, N)."""
    cores = cfg.cores or [{"core": i, "chip": 0, "pop": p.name, "start": 0, "stop": p.size}
                          for i, p in enumerate(cfg.populations)]
    nc = len(cores)
    core_of = {}
    for c in cores:
        core_of.setdefault(c["pop"], []).append(c)
    z = dict(synops=np.zeros((B, nc)), spikes=np.zeros((B, nc)), local=np.zeros(B),
             core=np.zeros(B), chip=np.zeros(B), inp=np.zeros(B),
             step_synops=np.zeros((T, nc)), step_spikes=np.zeros((T, nc)),
             step_out=np.zeros((T, nc)))
    for s in syn:
        q = s.q
        mask = connectivity(cfg, q)
        fan = np.zeros((mask.shape[1], nc))
        for c in core_of.get(q.dst, []):
            fan[:, c["core"]] = mask[c["start"]:c["stop"]].sum(axis=0)
        ev = events[q.src] != 0
        ev_b = ev.sum(axis=0, dtype=np.float64)            # (B, N_src): per sample
        ev_t = ev.sum(axis=1, dtype=np.float64)            # (T, N_src): per step
        z["synops"] += ev_b @ fan
        z["step_synops"] += ev_t @ fan
        reach = fan > 0
        if q.src in cfg.inputs:
            z["inp"] += ev_b @ reach.sum(axis=1)
            continue
        chips = np.array([cc["chip"] for cc in cores])
        for c in core_of[q.src]:
            r = reach[c["start"]:c["stop"]]
            own = np.zeros(nc, bool)
            own[c["core"]] = True
            kinds = {"local": own, "chip": chips != c["chip"], "core": ~own & (chips == c["chip"])}
            for k, sel in kinds.items():
                n_msg = r[:, sel].sum(axis=1)
                z[k] += ev_b[:, c["start"]:c["stop"]] @ n_msg
                if k != "local":
                    z["step_out"][:, c["core"]] += ev_t[:, c["start"]:c["stop"]] @ n_msg
    for name, cs in core_of.items():
        for c in cs:
            sp = events[name][:, :, c["start"]:c["stop"]].sum(axis=2)
            z["spikes"][:, c["core"]] = sp.sum(axis=0)
            z["step_spikes"][:, c["core"]] = sp.sum(axis=1)
    npc = np.array([c["stop"] - c["start"] for c in cores], np.int64)
    return EventCounts(z["synops"], z["spikes"], z["local"], z["core"], z["chip"], z["inp"],
                       z["step_synops"], z["step_spikes"], z["step_out"], npc, npc * T)

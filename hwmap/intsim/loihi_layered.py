"""The integer simulator's layer-by-layer path for feed-forward networks.

Every projection adds a step (spikes emitted at step t arrive at t + 1 + delay), so in a network
without a cycle of projections a population's input over the whole run is known once its
sources have run: populations run one after another in dependency order, each over all T steps
(the compiled neuron rule of :func:`snnpipe.hwmap.intsim.loihi_kernel.scan`, step by step),
and each projection turns its source's T x B spike vectors into input sums in one convolution
or matrix product. Same integers as the step-by-step path of
:mod:`snnpipe.hwmap.intsim.loihi`, far fewer and larger array operations.
"""
from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from snnpipe.hwmap.intsim.loihi_prepare import (Synapses, neuron_constants, per_config,
                                               reset_constants)
from snnpipe.hwmap.intsim.loihi_sdnn import SigmaDeltaPops, state_names
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.hwmap.targets.loihi import (ACTIVATION_SHIFT, graded_input, graded_payload,
                                         neuron_step_inplace, reset_due)


# steps * samples * neurons of the largest population per chunk: arrays that stay in cache
# (PilotNet at batch 64: 2^20 runs 20-40 % faster than 2^22 or 2^24)
CHUNK_ELEMENTS = 1 << 20


def order(cfg: LoihiConfig) -> list | None:
    """Population names in dependency order, or None when the path does not apply: a cycle of
    projections (recurrence) or a population that is neither LIF (``cuba`` / ``li``) nor
    sigma-delta."""
    if any(p.model not in ("cuba", "li", "sigma_delta") for p in cfg.populations):
        return None
    h = nx.DiGraph()
    h.add_nodes_from(p.name for p in cfg.populations)
    h.add_edges_from((q.src, q.dst) for q in cfg.projections if q.src not in cfg.inputs)
    if not nx.is_directed_acyclic_graph(h):
        return None
    return list(nx.lexicographical_topological_sort(h, key=str))


def scan_numpy(arrivals, keep, bias, theta, r_int, r_off, spikes, rec_u, rec_v) -> None:
    """:func:`snnpipe.hwmap.intsim.loihi_kernel.scan` in numpy (when numba is missing, and for
    graded CUBA populations: an int64 ``spikes`` receives their payloads)."""
    n_syn, n_t, n_b, n = arrivals.shape
    x = np.zeros((n_syn + 1, n_b, n), np.int64)
    tmp = np.empty_like(x)
    v_pre = np.empty((n_b, n), np.int64) if spikes.dtype == np.int64 else None
    for t in range(n_t):
        x[:, :, reset_due(t + 1, r_int, r_off)] = 0
        s = neuron_step_inplace(x, arrivals[:, t], keep[:, None], bias, theta, tmp, v_pre)
        spikes[t] = s if v_pre is None else graded_payload(v_pre, s)
        if len(rec_u):
            rec_u[t] = x[:-1]
        if len(rec_v):
            rec_v[t] = x[-1]


def _scan():
    try:
        from snnpipe.hwmap.intsim.loihi_kernel import scan
    except ImportError:                       # numba missing
        return scan_numpy
    return scan


def run(cfg: LoihiConfig, x_in: dict, T: int, B: int, record, wanted):
    """Run ``cfg`` on ``x_in`` {input: (B, N, T) int64}; ``wanted(record, pop, var)`` says which
    states to keep. Returns as :func:`snnpipe.hwmap.intsim.loihi._run_numpy`: spikes {pop: (B,
    N, T) uint8}, states {"<pop>/u": (B, n_syn, N, T), "<pop>/v": (B, N, T)}.

    A batch runs in chunks of samples whose (step, sample, neuron) arrays stay within
    ``CHUNK_ELEMENTS`` for the largest population (samples are independent)."""
    n_max = max([p.size for p in cfg.populations] + [1])
    chunk = max(1, CHUNK_ELEMENTS // max(1, T * n_max))
    if B <= chunk:
        return _run(cfg, x_in, T, B, record, wanted)
    parts = [_run(cfg, {k: v[b:b + chunk] for k, v in x_in.items()}, T,
                  min(chunk, B - b), record, wanted) for b in range(0, B, chunk)]
    return tuple({k: np.concatenate([p[i][k] for p in parts]) for k in parts[0][i]}
                 for i in range(2))


def _run(cfg: LoihiConfig, x_in: dict, T: int, B: int, record, wanted):
    """:func:`run` on one chunk of samples."""
    (_, _, slices, keep, bias, theta), (r_int, r_off), incoming = per_config(cfg, _prepare)
    pops = {p.name: p for p in cfg.populations}
    events = {k: np.ascontiguousarray(_compact(v).transpose(2, 0, 1)) for k, v in x_in.items()}
    states, scan = {}, _scan()
    sd = SigmaDeltaPops(cfg, B, slices)
    graded = any(p.spike == "graded" for p in cfg.populations)
    spike_type = np.int64 if sd or graded else np.uint8      # as the step-by-step path
    for name in order(cfg):
        p, sl = pops[name], slices[name]
        fine = np.zeros((p.n_syn, T, B, p.size), np.int64) \
            if any(s.payload for s in incoming[name]) else None
        arrivals = np.zeros((p.n_syn, T, B, p.size), _arrival_type(p, incoming[name], events,
                                                                   fine is None))
        for s in incoming[name]:
            used = T - 1 - min(d for d, _, _ in s.terms)   # events of the last steps never arrive
            if used <= 0:
                continue
            x = events[s.q.src][:used]
            for d, acc in s.apply(x.reshape(used * B, -1), arrivals.dtype):
                if 1 + d < T:
                    acc = acc.reshape(used, B, -1)[:T - 1 - d]
                    if s.payload:            # graded: summed whole, truncated once per step
                        fine[s.q.syn, 1 + d:] += acc
                    else:
                        np.left_shift(acc, ACTIVATION_SHIFT, out=acc)
                        arrivals[s.q.syn, 1 + d:] += acc
        if fine is not None:
            arrivals = graded_input(arrivals, fine)
        if p.model == "sigma_delta":
            events[name], rec = sd.run(name, arrivals[0],
                                       [v for v in state_names(p) if wanted(record, name, v)])
            states.update((f"{name}/{v}", a) for v, a in rec.items())
            continue
        k_keep = np.ascontiguousarray(keep[list(range(p.n_syn)) + [-1], 0, sl])
        out = np.empty((T, B, p.size), np.int64 if p.spike == "graded" else np.uint8)
        rec_u = np.empty((T if wanted(record, name, "u") else 0, p.n_syn, B, p.size), np.int64)
        rec_v = np.empty((T if wanted(record, name, "v") else 0, B, p.size), np.int64)
        run_scan = scan_numpy if p.spike == "graded" else scan
        run_scan(arrivals, k_keep, np.ascontiguousarray(bias[sl]),
                 np.ascontiguousarray(theta[sl]), np.ascontiguousarray(r_int[sl]),
                 np.ascontiguousarray(r_off[sl]), out, rec_u, rec_v)
        events[name] = out
        if len(rec_u):
            states[f"{name}/u"] = np.ascontiguousarray(rec_u.transpose(2, 1, 3, 0))
        if len(rec_v):
            states[f"{name}/v"] = np.ascontiguousarray(rec_v.transpose(1, 2, 0))
    return _StepMajor({k: events[k] for k in pops}, spike_type), states


def _arrival_type(p, incoming: list, events: dict, plain: bool):
    """int32 for the shifted input sums of a LIF population (no graded payloads in) when every
    sum of a step fits (:meth:`Synapses.bound`): half the memory traffic of its scan; else
    int64."""
    if not plain or p.model == "sigma_delta" or not incoming:
        return np.int64
    total = sum(s.bound(s.peak(events[s.q.src])) for s in incoming)
    return np.int32 if total * (1 << ACTIVATION_SHIFT) < 2 ** 31 else np.int64


def _prepare(cfg: LoihiConfig):
    """What a run needs of ``cfg`` alone: :func:`neuron_constants`, :func:`reset_constants`
    (read-only arrays) and each population's incoming :class:`Synapses`."""
    consts, resets = neuron_constants(cfg), reset_constants(cfg)
    for a in consts[3:] + resets:
        a.setflags(write=False)
    incoming: dict = {p.name: [] for p in cfg.populations}
    for q in cfg.projections:
        incoming[q.dst].append(Synapses(cfg, q))
    return consts, resets, incoming


class _StepMajor(Mapping):
    """Spikes {pop: (B, N, T)} of arrays held step-major (T, B, N), each made (B, N, T) on
    first use (copying every population's spikes costs a tenth of a large network's run)."""

    def __init__(self, events: dict, dtype):
        self._events, self._dtype, self._done, self._keys = events, dtype, {}, list(events)

    def __getitem__(self, name):
        if name not in self._done:
            self._done[name] = np.ascontiguousarray(self._events.pop(name).transpose(1, 2, 0),
                                                    dtype=self._dtype)
        return self._done[name]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _compact(x: np.ndarray) -> np.ndarray:
    """``x`` in the smallest signed integer type that holds its values (a cheaper transpose)."""
    lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min < lo and hi <= np.iinfo(t).max:      # (abs() of min overflows)
            return x.astype(t)
    return x

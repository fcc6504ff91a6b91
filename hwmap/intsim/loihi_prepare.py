"""A Loihi-style config prepared for the integer simulator: projections as effective integer
weights split by delay (:class:`Synapses`, which computes a projection's exact input sums) and
every population's constants in one neuron vector (:func:`neuron_constants`,
:func:`reset_constants`), prepared once per config (:func:`per_config`)."""
from __future__ import annotations

import weakref

import numpy as np
from scipy import sparse

from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.hwmap.mappers.loihi_conv import conv_int
from snnpipe.hwmap.mappers.loihi_map import effective
from snnpipe.hwmap.targets.loihi import (DECAY_UNIT, U_HALF, V_MAX, bias_array,
                                         threshold_value, wrap_activation)
from snnpipe.hwmap.targets.loihi_weights import shift_exp

SPARSE_DENSITY = 0.1      # below this fraction of active sources, Dense sums are sparse ...
SPARSE_MIN_ROWS = 1024    # ... for blocks of at least this many (step, sample) rows


_CACHE: dict = {}


def per_config(cfg: LoihiConfig, fn):
    """``fn(cfg)``, computed once and kept while ``cfg`` lives with the same populations,
    projections and weight arrays (on a large network, preparing costs a fifth of a run).
    Arrays of a config changed in place after a run are not seen: change a copy (as
    ``verify``'s ``alter`` does)."""
    key = (fn, id(cfg), tuple(map(id, cfg.populations)), tuple(map(id, cfg.projections)),
           tuple(id(q.weight) for q in cfg.projections))
    if key not in _CACHE:
        _CACHE[key] = fn(cfg)
        weakref.finalize(cfg, _CACHE.pop, key, None)
    return _CACHE[key]


def split_by_delay(q) -> list:
    """[(delay, int64 weights)] of a projection: Dense (N_src, N_dst), identity (N,), conv
    kernel (delay 0)."""
    if q.op == "conv":
        return [(0, np.asarray(q.weight, np.int64))]
    eff = effective(q)
    dl = np.broadcast_to(np.asarray(q.delay), eff.shape)
    if dl.size == 0 or dl.min() == dl.max():                     # one delay: no split
        return [(int(dl.flat[0]) if dl.size else 0, eff.T.copy())]
    return [(int(d), np.where(dl == d, eff, 0).T.copy()) for d in np.unique(dl)]


def repeated_rows(x: np.ndarray):
    """Where at least half the rows of ``x`` (M, N) repeat the row before (a source that holds
    its pattern, such as an input layer firing every step): ``(first, which)``, the indices of
    the rows that differ from the one before and, for every row, the position of its run
    among them; else None. Two rows in the middle are compared first (a hidden layer is silent
    in its first steps), so a source that changes there costs one row's comparison."""
    m = len(x) // 2
    if len(x) < 4 or not np.array_equal(x[m - 1], x[m]):
        return None
    new = np.ones(len(x), bool)
    new[1:] = (x[1:] != x[:-1]).any(axis=1)
    if 2 * np.count_nonzero(new) > len(x):
        return None
    return np.flatnonzero(new), np.cumsum(new) - 1


class Synapses:
    """One projection prepared for evaluation: effective weights split by delay."""

    def __init__(self, cfg: LoihiConfig, q):
        self.q, self.src_shape = q, tuple(cfg.node_shape(q.src))
        # the source sends graded CUBA payloads (pre-reset voltages, state units): the target
        # sums ``apply``'s outputs whole and truncates once (targets.loihi.graded_input)
        self.payload = q.src not in cfg.inputs and cfg.population(q.src).spike == "graded"
        self.n_dst = cfg.population(q.dst).size
        mats = split_by_delay(q)
        # float32 products are exact while every partial sum stays below 2^24 (binary inputs)
        small = q.op == "dense" and q.message_bits == 0 and all(
            np.abs(w).sum(axis=0).max(initial=0) < 2 ** 24 for _, w in mats)
        ft = np.float32 if small else np.float64
        self.terms = [(d, w.astype(ft), w) for d, w in mats]   # (delay, float, int64)
        self.max_delay = max(d for d, _, _ in self.terms)
        # a conv's largest sum of |weights| into one neuron: its output needs Lava's 24-bit wrap
        # only where this times the largest |input| can reach 2^23
        self.conv_bound = max(float(np.abs(w).reshape(len(w), -1).sum(axis=1).max(initial=0))
                              for _, w in mats) if q.op == "conv" else 0.0
        # a Dense / identity term's largest sum of |weights| into one neuron, before weight_exp
        self.weight_bound = max(float(np.abs(w).sum(axis=0).max(initial=0)) if w.ndim == 2
                                else float(np.abs(w).max(initial=0))
                                for _, w in mats) if q.op != "conv" else 0.0

    def bound(self, x_max: float) -> float:
        """An upper bound of the |sums| :meth:`apply` returns, over all its delays together,
        for sources of magnitude at most ``x_max`` (1 for binary spikes)."""
        if self.q.op == "conv":
            b = self.conv_bound * x_max
            one = min(b, U_HALF) if not self.payload and b >= U_HALF else b   # 24-bit wrap
        else:
            one = self.weight_bound * x_max * 2.0 ** max(self.q.weight_exp, 0)
        return one * len(self.terms)

    def peak(self, x: np.ndarray) -> float:
        """The largest |value| :meth:`apply` takes from source events ``x``: 1 for binary
        spikes (any non-zero counts once)."""
        if self.q.message_bits == 0 or x.dtype in (np.uint8, bool):
            return 1.0
        return float(np.abs(x).max(initial=0))

    def apply(self, x: np.ndarray, dtype=np.int64):
        """Source events (M, N_src) -> [(delay, Dense/Conv output (M, N_dst) ``dtype``)]
        (int32 where the caller knows from :meth:`bound` that the sums fit).

        Dense sums are exact: sparse int64 products when few sources are active, else BLAS in
        float64 (float32 when every partial sum stays below 2^24).
        """
        return [(d, acc.astype(dtype, copy=False)) for d, acc in self._apply(x, dtype)]

    def _apply(self, x: np.ndarray, dtype):
        if len(x) == 1 and self.q.op == "dense":           # one sample, one step: gather rows
            idx = np.flatnonzero(x[0])
            return [(d, shift_exp((x[0, idx].astype(np.int64) @ wi[idx] if self.q.message_bits
                                   else np.add.reduce(wi[idx], axis=0))[None], self.q.weight_exp))
                    for d, _, wi in self.terms]
        x_max = self.peak(x)
        if self.q.message_bits == 0 and x.dtype != np.uint8:   # uint8: binary spikes, 0 | 1
            x = x != 0
        out = []
        for d, wf, wi in self.terms:
            if self.q.op == "conv":
                rows = repeated_rows(x)             # a steady source: each distinct row once
                xs = x if rows is None else x[rows[0]]
                wrap = not self.payload and self.conv_bound * x_max >= U_HALF
                acc = conv_int(xs.reshape((-1,) + self.src_shape), wf, self.q.conv,
                               np.int64 if wrap else dtype, bound=self.conv_bound * x_max)
                acc = acc.reshape(len(xs), -1)
                acc = acc if rows is None else acc[rows[1]]
                out.append((d, wrap_activation(acc) if wrap else acc))
                continue
            if self.q.op == "identity":
                acc = x * wi
            elif len(x) >= SPARSE_MIN_ROWS and np.count_nonzero(x) < SPARSE_DENSITY * x.size:
                acc = np.asarray(sparse.csr_matrix(x.astype(np.int64)) @ wi)
            else:
                acc = (x.astype(wf.dtype) @ wf).astype(np.int64)
            out.append((d, shift_exp(acc, self.q.weight_exp)))
        return out


def graded_mask(cfg: LoihiConfig) -> np.ndarray:
    """(N,) bool over the state vector of :func:`neuron_constants`: neurons that send graded
    CUBA payloads."""
    return np.concatenate([np.full(p.size, p.spike == "graded") for p in cfg.populations]
                          or [np.zeros(0, bool)])


def neuron_constants(cfg: LoihiConfig):
    """Every population in one state vector: n_syn, N_total, slices, ``keep`` (n_syn + 1, 1,
    N) = 4096 - decay (currents, then voltage), ``bias``, ``theta`` (N,) in state units."""
    pops = cfg.populations
    n_syn = max([p.n_syn for p in pops] + [1])
    offs = np.cumsum([0] + [p.size for p in pops])
    n, slices = int(offs[-1]), {p.name: slice(int(a), int(b))
                                for p, a, b in zip(pops, offs[:-1], offs[1:])}
    keep = np.full((n_syn + 1, 1, n), DECAY_UNIT, np.int64)
    bias = np.zeros(n, np.int64)
    theta = np.full(n, V_MAX, np.int64)          # li: v never exceeds V_MAX
    for p in pops:
        sl = slices[p.name]
        keep[:p.n_syn, 0, sl] -= np.asarray(p.i_decay, np.int64)
        keep[-1, 0, sl] -= np.asarray(p.v_decay, np.int64)
        bias[sl] = bias_array(p.bias_mant, p.bias_exp)
        if p.model == "cuba":
            theta[sl] = threshold_value(np.asarray(p.vth, np.int64))
    return n_syn, n, slices, keep, bias, theta


def reset_constants(cfg: LoihiConfig) -> tuple[np.ndarray, np.ndarray]:
    """The periodic reset of every neuron in the state vector of :func:`neuron_constants`:
    ``interval`` (N,) int64 steps (0: never) and ``offset`` (N,) int64; u and v are zero at
    the start of step t (1-based) where ``t % interval == offset``
    (:func:`snnpipe.hwmap.targets.loihi.reset_due`, Lava's LIFReset)."""
    sizes = [p.size for p in cfg.populations]
    interval = np.repeat(np.array([p.reset_interval for p in cfg.populations] or [0], np.int64),
                         sizes or [0])
    offset = np.repeat(np.array([p.reset_offset for p in cfg.populations] or [0], np.int64),
                       sizes or [0])
    return interval, offset
